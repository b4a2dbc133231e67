"""Schema versions: apply Alembic migrations, or refuse to run on a schema older than the code.

SQLite databases upgrade themselves by default (a personal install should just work);
PostgreSQL ones wait for `watcher db upgrade`, since several processes share them and an
operator should choose the moment.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from watcher.errors import StoreError

if TYPE_CHECKING:  # db imports this module when it opens the schema
    from watcher.store.db import Store

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _alembic() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    head = ScriptDirectory.from_config(_alembic()).get_current_head()
    assert head is not None
    return head


def current(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, revision: str = "head") -> tuple[str | None, str]:
    """Apply migrations up to `revision`; returns (from, to)."""
    before = current(store)
    cfg = _alembic()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before, current(store) or ""


def ensure_schema(store: Store, auto_upgrade: bool) -> None:
    """Make sure the schema is the one this code expects, or say exactly what to do."""
    have, want = current(store), head()
    if have == want:
        return
    if auto_upgrade:
        upgrade(store)
        return
    if have is None:
        raise StoreError(
            "the database has no watcher schema yet; run `watcher db upgrade` "
            "(or set database.auto_upgrade: true)"
        )
    known = {s.revision for s in ScriptDirectory.from_config(_alembic()).walk_revisions()}
    if have not in known:
        raise StoreError(
            f"the database schema is at revision {have}, which this watcher does not "
            f"know (its newest is {want}); is an older watcher running against a "
            "newer database?"
        )
    raise StoreError(
        f"the database schema is at revision {have}, older than this watcher's "
        f"{want}; run `watcher db upgrade` (or set database.auto_upgrade: true)"
    )
