"""The daily maintenance job: retention and the clustering index, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import select

from watcher.config import parse_config
from watcher.daemon.scheduler import maintain
from watcher.model import NewStory
from watcher.neardup import fingerprint
from watcher.store import Store, sync_feeds
from watcher.store.feeds import FeedUpdate
from watcher.store.stories import StoryToSave, save_poll
from watcher.store.tables import StoryBand, StoryRow

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BODY = (
    "Foreign ministers met in Brussels for a new round of talks on the border, the first "
    "since the summer, officials said on Friday after the meeting ended. "
)


def count(store: Store, model: type) -> int:
    with store.read() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def test_maintenance_prunes_old_stories_and_band_rows(tmp_path: Path, database_url: str) -> None:
    config = parse_config(
        str(tmp_path / "w.yaml"),
        f"""
database: {database_url}
feeds: [{{name: wire, url: "https://example.org/rss"}}]
retention: {{stories: 30d, matched_stories: 60d, deliveries: 30d}}
""",
        {},
    )
    store = Store(database_url)
    store.create_schema()
    try:
        sync_feeds(store, config.feeds, T0, 300)
        items = []
        for i in range(3):
            when = T0 + timedelta(days=20 * i)  # day 0, 20, 40
            body = f"Bulletin {i}. " + BODY * 3
            items.append(
                (
                    when,
                    StoryToSave(
                        story=NewStory(
                            feed="wire",
                            key=f"guid:{i}",
                            guid=str(i),
                            url=None,
                            canonical_url=None,
                            title=f"Story {i}",
                            summary="",
                            body=body,
                            body_source="feed",
                            language="en",
                            search_text=body.lower(),
                            content_hash=f"h{i}",
                            published_at=when,
                            first_seen_at=when,
                        ),
                        fingerprint=fingerprint(f"Story {i}", body),
                    ),
                )
            )
        for when, item in items:
            save_poll(
                store,
                "wire",
                FeedUpdate(polled_at=when, next_poll_at=when, status=200, error=None),
                [item],
            )
        assert count(store, StoryRow) == 3 and count(store, StoryBand) == 3 * 42

        maintain(store, config, T0 + timedelta(days=45))
        with store.read() as s:
            left = sorted(s.exec(select(StoryRow.key)).all())
        assert left == ["guid:1", "guid:2"]  # day 0 is older than 30 days
        assert count(store, StoryBand) == 0  # every story is past the 72-hour window
    finally:
        store.close()
