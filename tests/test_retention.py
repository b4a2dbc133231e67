"""Retention pruning and `db stats`, on SQLite and (in the PG pass) PostgreSQL."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from tests.conftest import run_watcher
from watcher.config import parse_config
from watcher.config.model import RetentionConfig
from watcher.daemon.retention import cutoffs, prune
from watcher.errors import ConfigError
from watcher.rules import normalise_text
from watcher.rules.fulltext import compile_search
from watcher.store import Store
from watcher.store.search import search
from watcher.store.stats import db_stats, human_bytes, render_stats
from watcher.store.tables import (
    AlertRow,
    DeliveryRow,
    MatchRow,
    StoryBand,
    StoryRow,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
RETENTION = RetentionConfig(
    stories=90 * 86400.0, matched_stories=365 * 86400.0, deliveries=30 * 86400.0
)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    st = Store(database_url)
    st.create_schema()
    yield st
    st.close()


def story(store: Store, title: str, age: timedelta, *, matched: bool = False) -> int:
    with store.write() as s:
        row = StoryRow(
            feed="wire",
            key=f"guid:{title}",
            title=title,
            body=f"{title} body",
            search_text=normalise_text(f"{title}\n\n{title} body"),
            content_hash=title,
            first_seen_at=NOW - age,
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        if matched:
            s.add(MatchRow(story_id=row.id, rule="r", terms="[]", hits="[]", matched_at=NOW - age))
        return row.id


def alert(
    store: Store, story_id: int | None, *deliveries: tuple[str, timedelta], kind: str = "alert"
) -> int:
    """An alert with one delivery per (status, age of its last attempt); no story: a feed's."""
    with store.write() as s:
        row = AlertRow(
            story_id=story_id,
            notifier="desk",
            kind=kind,
            title="t",
            context="{}",
            created_at=NOW - 60 * DAY,
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        for target, (status, age) in enumerate(deliveries):
            s.add(
                DeliveryRow(
                    alert_id=row.id,
                    notifier="desk",
                    target=target,
                    status=status,
                    next_attempt_at=NOW - age,
                    sent_at=NOW - age if status == "sent" else None,
                )
            )
        return row.id


def ids(store: Store, model: type[StoryRow] | type[AlertRow] | type[DeliveryRow]) -> set[int]:
    with store.read() as s:
        return {i for i in s.exec(select(model.id)).all() if i is not None}  # type: ignore[call-overload]


def count(store: Store, model: type[MatchRow] | type[StoryBand]) -> int:
    with store.read() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


# -- policy (pure) -------------------------------------------------------------------------


def test_cutoffs_from_an_injected_now() -> None:
    cut = cutoffs(RETENTION, NOW)
    assert cut.stories == NOW - 90 * DAY
    assert cut.matched_stories == NOW - 365 * DAY
    assert cut.deliveries == NOW - 30 * DAY
    forever = cutoffs(RetentionConfig(stories=math.inf, matched_stories=math.inf), NOW)
    assert forever.stories is None and forever.matched_stories is None


def _retention(yaml: str) -> RetentionConfig:
    return parse_config("w.yaml", f"retention:\n{yaml}", {}).retention


def test_config_retention_defaults_and_values() -> None:
    assert parse_config("w.yaml", "feeds: []\n", {}).retention == RetentionConfig()
    got = _retention("  stories: 30d\n  matched_stories: forever\n  deliveries: 2w\n")
    assert got == RetentionConfig(
        stories=30 * 86400.0, matched_stories=math.inf, deliveries=14 * 86400.0
    )


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            "  stories: 400d\n",
            "retention.matched_stories: matched_stories must be at least as long as stories",
        ),
        ("  stories: forever\n", "retention.matched_stories: matched_stories must be at least"),
        ("  deliveries: 2h\n", "retention.deliveries: expected at least 1d (or forever), got '2h'"),
        ("  stories: soon\n", "retention.stories: expected a duration"),
        ("  storie: 30d\n", "retention.storie: unknown key; did you mean 'stories'?"),
    ],
)
def test_config_retention_errors(yaml: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _retention(yaml)
    assert any(message in str(p) for p in caught.value.problems), caught.value.problems


# -- pruning -------------------------------------------------------------------------------


def test_unmatched_stories_go_before_matched_ones(store: Store) -> None:
    old_unmatched = [story(store, f"old unmatched {i}", 100 * DAY) for i in range(7)]
    young_unmatched = story(store, "young unmatched", 80 * DAY)
    old_matched = story(store, "old matched", 200 * DAY, matched=True)
    ancient_matched = [
        story(store, f"ancient matched {i}", 400 * DAY, matched=True) for i in range(3)
    ]

    counts = prune(store, RETENTION, NOW, batch=2)

    assert ids(store, StoryRow) == {young_unmatched, old_matched}
    assert counts["unmatched_stories"] == len(old_unmatched)
    assert counts["matched_stories"] == len(ancient_matched)
    assert counts["stories"] == 10
    assert counts["matches"] == 3
    assert count(store, MatchRow) == 1
    assert prune(store, RETENTION, NOW, batch=2) == {}  # nothing left to do


def test_pending_and_held_deliveries_keep_their_story(store: Store) -> None:
    pending = story(store, "pending", 400 * DAY, matched=True)
    alert(store, pending, ("sent", 300 * DAY), ("pending", 300 * DAY))
    held = story(store, "held", 400 * DAY)
    alert(store, held, ("held", 300 * DAY))
    done = story(store, "done", 400 * DAY, matched=True)
    alert(store, done, ("sent", 300 * DAY), ("dead", 300 * DAY))

    counts = prune(store, RETENTION, NOW, batch=1)

    assert ids(store, StoryRow) == {pending, held}
    with store.read() as s:
        left = {(d.alert_id, d.status) for d in s.exec(select(DeliveryRow)).all()}
    assert {status for _, status in left} == {"pending", "held"}  # the sent one went by age
    assert counts["deliveries"] == 3  # done's sent and dead, pending's old sent one
    assert counts["matched_stories"] == 1


def test_finished_deliveries_and_emptied_alerts(store: Store) -> None:
    s1 = story(store, "recent story", DAY, matched=True)
    old_alert = alert(store, s1, ("sent", 40 * DAY), ("dead", 31 * DAY))
    mixed = alert(
        store, story(store, "second", DAY, matched=True), ("sent", 40 * DAY), ("sent", 5 * DAY)
    )
    waiting = alert(store, story(store, "third", DAY, matched=True), ("pending", 40 * DAY))
    # feed-health alerts have no story and go by the same rules
    health = {
        (status, age): alert(store, None, (status, age * DAY), kind="health")
        for status, age in (("sent", 40), ("dead", 40), ("pending", 40), ("sent", 2))
    }

    counts = prune(store, RETENTION, NOW, batch=1)

    assert counts["deliveries"] == 3 + 2
    assert counts["alerts"] == 1 + 2
    assert ids(store, AlertRow) == {mixed, waiting, health["pending", 40], health["sent", 2]}
    assert old_alert not in ids(store, AlertRow)
    assert len(ids(store, StoryRow)) == 3  # stories are young: untouched


def test_rows_that_refer_to_a_pruned_story_go_with_it(store: Store) -> None:
    """Found through the foreign keys: tables added later are cleaned up too."""
    gone = story(store, "gone", 100 * DAY)
    kept = story(store, "kept", DAY)
    with store.write() as s:
        for sid in (gone, kept):
            s.add(StoryBand(story_id=sid, band_key=sid, seen_at=NOW))
    alert(store, gone, ("sent", DAY))  # alerts.story_id is nullable, yet goes with its story
    counts = prune(store, RETENTION, NOW)
    assert counts["story_bands"] == 1
    assert count(store, StoryBand) == 1
    assert (counts["alerts"], counts["deliveries"]) == (1, 1)
    assert ids(store, AlertRow) == set()


def test_pruned_stories_leave_the_search_index(store: Store) -> None:
    story(store, "Lachin corridor reopens", 100 * DAY)
    story(store, "Lachin talks", DAY)
    prune(store, RETENTION, NOW, batch=1)
    found = search(store, compile_search("lachin"))
    assert [r.title for r in found] == ["Lachin talks"]
    if store.is_sqlite:
        with store.write() as s:  # raises if the FTS index still holds the deleted rows
            s.execute(text("INSERT INTO stories_fts(stories_fts) VALUES ('integrity-check')"))


def test_forever_keeps_everything(store: Store) -> None:
    story(store, "very old", 5000 * DAY)
    story(store, "very old matched", 5000 * DAY, matched=True)
    keep = RetentionConfig(stories=math.inf, matched_stories=math.inf, deliveries=math.inf)
    assert prune(store, keep, NOW) == {}
    assert len(ids(store, StoryRow)) == 2


def test_batch_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="batch"):
        prune(store, RETENTION, NOW, batch=0)


# -- db stats ------------------------------------------------------------------------------


def test_db_stats_counts_rows_and_measures_size(store: Store) -> None:
    for i in range(3):
        story(store, f"story {i}", DAY, matched=i == 0)
    stats = db_stats(store)
    assert stats["tables"]["stories"] == 3
    assert stats["tables"]["matches"] == 1
    assert stats["tables"]["deliveries"] == 0
    assert "stories_fts" not in stats["tables"]
    assert stats["size_bytes"] > 0
    if store.is_sqlite:
        with store.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            wal = os.path.getsize(f"{store.engine.url.database}-wal")
            assert stats["main_bytes"] == pages * size
            assert stats["wal_bytes"] == wal
            assert stats["size_bytes"] == pages * size + wal
    else:
        assert stats["table_bytes"]["stories"] > 0
    shown = render_stats(stats)
    assert "stories" in shown
    assert stats["backend"] in shown.splitlines()[0]


def test_db_stats_on_postgresql(pg_url: str) -> None:
    st = Store(pg_url)
    st.create_schema()
    try:
        story(st, "one", DAY)
        stats = db_stats(st)
        with st.engine.connect() as conn:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        assert stats["backend"] == "postgresql"
        assert abs(stats["size_bytes"] - size) < 1024 * 1024
        assert stats["tables"]["stories"] == 1
        assert "postgres@" not in render_stats(stats)  # no credentials in the output
    finally:
        st.close()


def test_render_stats_text() -> None:
    stats = {
        "backend": "sqlite",
        "database": "data/watcher.db",
        "tables": {"matches": 12, "stories": 10_234},
        "main_bytes": 3 * 1024 * 1024,
        "wal_bytes": 512,
        "size_bytes": 3 * 1024 * 1024 + 512,
    }
    assert render_stats(stats).splitlines() == [
        "database  sqlite  data/watcher.db",
        "size      3.0 MB (main 3.0 MB, WAL 512 B)",
        "",
        "table            rows",
        "matches            12",
        "stories        10,234",
    ]
    assert human_bytes(5 * 1024**4) == "5.0 TB"


def test_db_stats_command(store: Store, database_url: str, tmp_path: Path) -> None:
    story(store, "one", DAY)
    config = tmp_path / "watcher.yaml"
    config.write_text(f"database: {database_url}\n", encoding="utf-8")
    done = run_watcher("db", "stats", "-c", str(config))
    assert done.returncode == 0, done.stderr
    assert "stories" in done.stdout
