"""Schema migrations: the models and the migrations agree, and upgrades keep data."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from tests.conftest import run_watcher
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
