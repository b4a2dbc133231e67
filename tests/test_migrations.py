"""Schema migrations: the models and the migrations agree, and upgrades keep data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from tests.conftest import Receiver, run_watcher
from watcher.store import Store
from watcher.store.migrate import current, head, upgrade

# Full-text search is hand-written DDL (migration 0002), outside the models.


def test_migrations_match_the_models(empty_database_url: str) -> None:
    store = Store(empty_database_url)
    upgrade(store)
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": _not_fts})
        diff = compare_metadata(ctx, SQLModel.metadata)
    store.close()
    assert diff == [], "models changed without a migration: " + repr(diff)[:2000]


def _not_fts(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    if name is None:
        return True
    return not ("_fts" in name or name in ("search_vector", "ix_stories_search"))


def test_run_refuses_an_old_schema_when_auto_upgrade_is_off(
    tmp_path: Path, empty_database_url: str
) -> None:
    store = Store(empty_database_url)
    upgrade(store, "0001")
    at = current(store)
    store.close()
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"database: {{url: '{empty_database_url}', auto_upgrade: false}}\n", encoding="utf-8"
    )
    if at == head():
        return  # only one revision so far: nothing older to refuse
    result = run_watcher("run", "--once", "-c", str(cfg))
    assert result.returncode == 1
    assert f"older than this watcher's {head()}; run `watcher db upgrade`" in result.stderr
    up = run_watcher("db", "upgrade", "-c", str(cfg))
    assert up.returncode == 0 and f"schema at revision {head()}" in up.stdout
    assert run_watcher("run", "--once", "-c", str(cfg)).returncode == 0


def test_empty_postgres_style_database_asks_for_upgrade(
    tmp_path: Path, empty_database_url: str
) -> None:
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"database: {{url: '{empty_database_url}', auto_upgrade: false}}\n", encoding="utf-8"
    )
    result = run_watcher("run", "--once", "-c", str(cfg))
    assert result.returncode == 1 and "run `watcher db upgrade`" in result.stderr


def test_upgrade_from_revision_1_keeps_data_and_indexes_it(
    tmp_path: Path, empty_database_url: str
) -> None:
    """A database created at migration 1 and holding data is upgraded to head: every row is
    still there, and the search index added by migration 2 covers the old stories."""
    from sqlalchemy import text

    from watcher.rules.fulltext import compile_search
    from watcher.store.search import search

    store = Store(empty_database_url)
    upgrade(store, "0001")
    assert current(store) == "0001"
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO feeds (name, url, next_poll_at, interval, consecutive_errors, stories_seen, "
                "moved_seen, possible_gaps) VALUES ('wire', 'https://example.org/rss', '2026-11-01 00:00:00', 300, 0, 1, 0, 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO stories (feed, key, title, summary, body, body_source, content_hash, "
                "first_seen_at, search_text, title_key) VALUES ('wire', 'guid:1', 'Переговоры по Карабаху', '', "
                "'Делегации встретились в Брюсселе.', 'page', 'h1', '2026-11-01 00:00:00', "
                "'peregovory po karabakhu delegatsii vstretilis v bryussele', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO matches (story_id, rule, terms, hits, snippet, score, matched_at) "
                "SELECT id, 'karabakh', '[\"Karabakh*\"]', '[]', '', 3, '2026-11-01 00:00:00' FROM stories"
            )
        )
    before, after = upgrade(store)
    assert (before, after) == ("0001", head())
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT title FROM stories")).scalar() == "Переговоры по Карабаху"
        assert conn.execute(text("SELECT rule FROM matches")).scalar() == "karabakh"
        assert conn.execute(text("SELECT url FROM feeds")).scalar() == "https://example.org/rss"
    found = search(store, compile_search("Карабах*"))
    store.close()
    assert [r.title for r in found] == ["Переговоры по Карабаху"]


def test_upgrade_moves_pending_health_alerts_into_the_outbox(
    empty_database_url: str, receiver: Receiver
) -> None:
    """At revision 0002 feed-health alerts had their own table and retry loop. Upgrading keeps
    a pending one as a pending delivery (attempts and error kept) that the one sender then
    sends; sent ones were history and go with the old table."""
    from sqlalchemy import inspect, text

    from watcher.config import parse_config
    from watcher.notify.sender import deliver_due
    from watcher.store.outbox import list_deliveries

    store = Store(empty_database_url)
    upgrade(store, "0002")
    with store.engine.begin() as conn:
        for status, target, attempts in (("pending", 0, 2), ("pending", 1, 2), ("sent", 0, 1)):
            conn.execute(
                text(
                    "INSERT INTO health_alerts (feed, kind, notifier, target, title, body, "
                    "created_at, status, attempts, next_attempt_at, last_error) VALUES ('wire', "
                    "'failing', 'ops', :target, :title, 'Feed wire has failed every poll.', "
                    "'2026-11-28 06:00:00', :status, :attempts, '2026-11-28 06:30:00', 'HTTP 503')"
                ),
                {
                    "target": target,
                    "title": f"[watcher] feed wire has been failing for 6h ({status})",
                    "status": status,
                    "attempts": attempts,
                },
            )
    before, after = upgrade(store)
    assert (before, after) == ("0002", head())
    assert "health_alerts" not in inspect(store.engine).get_table_names()
    moved = sorted(list_deliveries(store), key=lambda d: d.target)
    assert [(d.kind, d.status, d.notifier, d.target, d.attempts) for d in moved] == [
        ("health", "pending", "ops", 0, 2),
        ("health", "pending", "ops", 1, 2),
    ]
    assert moved[0].last_error == "HTTP 503"
    assert {d.title for d in moved} == {"[watcher] feed wire has been failing for 6h (pending)"}
    with store.engine.connect() as conn:  # one alert, one delivery per target
        assert conn.execute(text("SELECT count(*) FROM alerts")).scalar() == 1

    config = parse_config(
        "w.yaml",
        f"database: {empty_database_url}\n"
        f'notifiers:\n  ops: ["{receiver.apprise_url}", "{receiver.apprise_url}"]\n',
        {},
    )
    now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert asyncio.run(deliver_due(store, config, lambda: now)) == (2, 0)
    store.close()
    assert [a["message"] for a in receiver.alerts] == ["Feed wire has failed every poll."] * 2


def test_downgrade_from_0003_puts_pending_health_alerts_back(empty_database_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from watcher.store.migrate import _alembic
    from watcher.store.outbox import OutboxAlert, add_alert, list_deliveries

    store = Store(empty_database_url)
    upgrade(store, "0003_health_outbox")
    now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    context = {"feed": "wire", "event": "silent", "title": "gone silent", "body": "no news"}
    with store.write() as s:
        add_alert(s, None, OutboxAlert("ops", "gone silent", context, 2, "health"), now)
    cfg = _alembic()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    assert current(store) == "0002"
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT feed, kind, target, status, body FROM health_alerts"))
        assert sorted(tuple(r) for r in rows) == [
            ("wire", "silent", 0, "pending", "no news"),
            ("wire", "silent", 1, "pending", "no news"),
        ]
        assert conn.execute(text("SELECT count(*) FROM alerts")).scalar() == 0
    upgrade(store)
    assert [d.kind for d in list_deliveries(store)] == ["health", "health"]
    store.close()


def test_a_database_upgraded_with_its_band_data_keeps_clustering(empty_database_url: str) -> None:
    """A story stored at migration 1 with its signature and band rows is still found after the
    upgrade to head: a reprint of it from another feed joins its cluster, a different story
    does not. The cluster lookup of issue 18 (bounded per band key, decided in batches) reads
    the band rows an older watcher wrote."""
    from datetime import timedelta

    from sqlalchemy import text

    from tests.test_cluster_bounds import REPRINT, WIRE, Seen
    from watcher.config import FeedConfig
    from watcher.neardup import fingerprint, pack
    from watcher.store import sync_feeds
    from watcher.store.feeds import FeedUpdate
    from watcher.store.stories import save_poll

    title = "Border crossing agreed in Tbilisi"
    fp = fingerprint(title, WIRE)
    assert fp.bands
    store = Store(empty_database_url)
    upgrade(store, "0001")
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stories (feed, key, title, summary, body, body_source, "
                "content_hash, first_seen_at, search_text, title_key, signature) "
                "VALUES ('wire', 'guid:1', :title, '', :body, 'feed', 'h1', "
                "'2026-11-01 00:00:00', '', :tkey, :sig)"
            ),
            {"title": title, "body": WIRE, "tkey": fp.title_key, "sig": pack(fp.signature)},
        )
        original = conn.execute(text("SELECT id FROM stories")).scalar_one()
        conn.execute(text("UPDATE stories SET cluster_id = id"))
        for key in fp.bands:
            conn.execute(
                text(
                    "INSERT INTO story_bands (story_id, band_key, seen_at) "
                    "VALUES (:s, :k, '2026-11-01 00:00:00')"
                ),
                {"s": original, "k": key},
            )
    upgrade(store)
    assert current(store) == head()
    at = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    sync_feeds(store, [FeedConfig(name="agency", url="https://agency.example/rss")], at, 300)
    seen = Seen()

    other = (
        "Heavy snow closed the mountain pass for the third day running, and the roads agency "
        "said ploughs could not reach the upper villages before the weekend because of the "
        "risk of avalanches on the northern slope above the old tunnel and the new bridge."
    )
    save_poll(
        store,
        "agency",
        FeedUpdate(polled_at=at, next_poll_at=at + timedelta(minutes=5), status=200, error=None),
        [
            seen.item("agency", 2, "Tbilisi: new crossing point", REPRINT, at),
            seen.item("agency", 3, "Snow closes the pass", other, at),
        ],
    )
    with store.engine.connect() as conn:
        clusters = dict(conn.execute(text("SELECT key, cluster_id FROM stories")).all())
    store.close()
    assert clusters["guid:agency-2"] == original  # the reprint joined the story stored before
    assert clusters["guid:agency-3"] != original
