"""Schema migrations: the models and the migrations agree, and upgrades keep data."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from tests.conftest import run_watcher
from watcher.store import Store
from watcher.store.migrate import current, head, upgrade


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
    return not (type_ == "table" and name is not None and "_fts" in name)


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
