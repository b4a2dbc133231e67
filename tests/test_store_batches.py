"""Polls written in batches: a poll's new stories in one multi-row insert, several polls in one
transaction. Batching must not change what is stored: clusters, matches and alerts come out as
if every story had been saved one by one, and one poll that cannot be stored fails alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlmodel import select

from watcher.config import Config, parse_config
from watcher.ingest.parse import Entry
from watcher.ingest.prepare import FeedRef, prepare_story
from watcher.model import AlertStory
from watcher.notify.alerts import cluster_alerts
from watcher.rules import RuleSet
from watcher.store import Store, sync_feeds
from watcher.store.clusters import ClusterInfo
from watcher.store.feeds import FeedUpdate, feed_state
from watcher.store.stories import PollToSave, StoryToSave, save_poll, save_polls
from watcher.store.tables import AlertRow, MatchRow, StoryBand, StoryRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WIRE = (
    "The border commission of the two countries met in Tbilisi on Tuesday and agreed on the "
    "route of a new crossing point near the river, officials said after a six-hour session "
    "that ended late in the evening. Work is to begin in the spring, according to the "
    "statement, which also mentioned customs and rail links between the two capitals."
)
OTHER = (
    "Heavy snow closed the mountain pass for the third day running, and the roads agency "
    "said ploughs could not reach the upper villages before the weekend because of the risk "
    "of avalanches on the northern slope above the old tunnel and the new bridge."
)


@pytest.fixture
def setup(tmp_path: Path, database_url: str) -> Iterator[tuple[Config, Store, RuleSet]]:
    config = parse_config(
        str(tmp_path / "w.yaml"),
        f"""
database: {database_url}
notifiers:
  ops: {{urls: ["json://127.0.0.1:9/x"]}}
feeds:
  - {{name: a, url: "https://a.example/rss"}}
  - {{name: b, url: "https://b.example/rss"}}
  - {{name: c, url: "https://c.example/rss"}}
rules:
  - {{name: border, query: 'border AND commission', notify: [ops]}}
""",
        {},
    )
    store = Store(database_url)
    store.create_schema()
    sync_feeds(store, config.feeds, T0, 300)
    rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
    try:
        yield config, store, rules
    finally:
        store.close()


def item(config: Config, rules: RuleSet, feed: str, n: int, title: str, body: str) -> StoryToSave:
    entry = Entry(
        guid=f"{feed}-{n}",
        link=f"https://{feed}.example/news/{n}",
        title=title,
        summary=body[:120],
        content="",
        published_at=T0,
    )
    p = prepare_story(rules, FeedRef(feed), entry, body, "feed", T0)
    story = AlertStory(
        title=p.story.title,
        url=p.story.url,
        feed=feed,
        published_at=None,
        language=None,
        summary="",
    )
    return StoryToSave(
        story=p.story,
        matches=p.matches,
        fingerprint=p.fingerprint,
        alerts=partial(cluster_alerts, config, story, p.matches, T0),
    )


def update(status: int = 200) -> FeedUpdate:
    return FeedUpdate(
        polled_at=T0, next_poll_at=T0 + timedelta(minutes=5), status=status, error=None
    )


def stories(store: Store) -> list[StoryRow]:
    with store.read() as s:
        return list(s.exec(select(StoryRow).order_by(StoryRow.id)).all())  # type: ignore[arg-type]


def test_a_poll_of_distinct_stories_is_stored_whole(setup: tuple[Config, Store, RuleSet]) -> None:
    config, store, rules = setup
    items = [
        item(config, rules, "a", 1, "Border commission agrees on a new crossing", WIRE),
        item(config, rules, "a", 2, "Snow closes the mountain pass again", OTHER),
    ]
    save_poll(store, "a", update(), items)
    rows = stories(store)
    assert [r.key for r in rows] == ["guid:a-1", "guid:a-2"]
    assert all(r.cluster_id == r.id for r in rows)  # each starts its own cluster
    with store.read() as s:
        bands = s.exec(select(StoryBand.story_id)).all()
        matches = s.exec(select(MatchRow.story_id, MatchRow.rule)).all()
        alerts = s.exec(select(AlertRow.story_id, AlertRow.notifier)).all()
    assert sorted(set(bands)) == [r.id for r in rows]
    assert len(bands) == 2 * 42
    assert matches == [(rows[0].id, "border")] and alerts == [(rows[0].id, "ops")]


def test_a_reprint_in_the_same_poll_joins_the_first_and_alerts_once(
    setup: tuple[Config, Store, RuleSet],
) -> None:
    """The second story is a light edit of the first: it must see the first even though both
    are written in the same poll, so the rule alerts once for the cluster."""
    config, store, rules = setup
    reprint = WIRE.replace("Tuesday", "Tuesday (updated)").replace("spring", "early spring")
    items = [
        item(config, rules, "a", 1, "Border commission agrees on a new crossing", WIRE),
        item(config, rules, "a", 2, "Snow closes the mountain pass again", OTHER),
        item(config, rules, "a", 3, "Crossing agreed by the border commission", reprint),
    ]
    save_poll(store, "a", update(), items)
    first, other, third = stories(store)
    assert third.cluster_id == first.id and other.cluster_id == other.id
    with store.read() as s:
        alerts = s.exec(select(AlertRow.story_id)).all()
        matched = s.exec(select(MatchRow.story_id)).all()
    assert alerts == [first.id]  # one alert for the cluster
    assert sorted(matched) == [first.id, third.id]  # both stories still record their match


def test_a_story_from_another_feed_joins_the_stored_cluster(
    setup: tuple[Config, Store, RuleSet],
) -> None:
    config, store, rules = setup
    save_poll(store, "a", update(), [item(config, rules, "a", 1, "Border deal", WIRE)])
    later = [
        item(config, rules, "b", 1, "Snow closes the pass", OTHER),
        item(config, rules, "b", 2, "Border commission agrees on a crossing", WIRE),
    ]
    save_poll(store, "b", update(), later)
    a1, b1, b2 = stories(store)
    assert b2.cluster_id == a1.id and b1.cluster_id == b1.id


def test_a_story_another_process_stored_first_is_skipped_and_the_rest_kept(
    setup: tuple[Config, Store, RuleSet],
) -> None:
    """The batched insert hits the unique constraint; the poll falls back to one savepoint a
    story and keeps every story that was not stored yet."""
    config, store, rules = setup
    dup = item(config, rules, "a", 2, "Snow closes the mountain pass again", OTHER)
    save_poll(store, "a", update(), [dup])
    items = [
        item(config, rules, "a", 1, "Border commission agrees on a new crossing", WIRE),
        dup,
        item(config, rules, "a", 3, "Markets", "Shares rose on the stock exchange " * 8),
    ]
    save_poll(store, "a", update(), items)
    assert sorted(r.key for r in stories(store)) == ["guid:a-1", "guid:a-2", "guid:a-3"]


def test_one_poll_that_cannot_be_stored_fails_alone(
    setup: tuple[Config, Store, RuleSet],
) -> None:
    config, store, rules = setup

    def broken(_info: ClusterInfo) -> tuple[()]:
        raise ValueError("template context cannot be built")

    good_a = item(config, rules, "a", 1, "Border commission agrees on a new crossing", WIRE)
    bad = item(config, rules, "b", 1, "Snow closes the mountain pass again", OTHER)
    bad = StoryToSave(bad.story, bad.matches, broken, bad.fingerprint)
    polls = [
        PollToSave("a", update(), [good_a]),
        PollToSave("b", update(), [bad]),
        PollToSave("c", update(status=304)),
        PollToSave("gone", update()),  # a feed removed from the config meanwhile
    ]
    results = save_polls(store, polls)
    assert results[0] is None and results[2] is None and results[3] is None
    assert results[1] is not None and "feed b" in str(results[1])
    assert [r.feed for r in stories(store)] == ["a"]
    state = {n: feed_state(store, n) for n in "abc"}
    assert state["a"] is not None and state["a"].last_status == 200
    assert state["c"] is not None and state["c"].last_status == 304
    assert state["b"] is not None and state["b"].last_polled_at is None  # rolled back


def test_a_reprint_in_another_poll_of_the_same_transaction_joins_the_first(
    setup: tuple[Config, Store, RuleSet],
) -> None:
    config, store, rules = setup
    results = save_polls(
        store,
        [
            PollToSave("a", update(), [item(config, rules, "a", 1, "Border deal", WIRE)]),
            PollToSave(
                "b", update(), [item(config, rules, "b", 1, "Border commission deal", WIRE)]
            ),
        ],
    )
    assert results == [None, None]
    a1, b1 = stories(store)
    assert b1.cluster_id == a1.id
    with store.read() as s:
        assert s.exec(select(AlertRow.story_id)).all() == [a1.id]
