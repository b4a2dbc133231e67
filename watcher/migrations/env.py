"""Alembic environment: always driven from watcher.store.migrate with a live connection."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from watcher.store import tables  # noqa: F401  registers the tables on the metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `watcher db upgrade`, not the alembic CLI")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Full-text search tables are created by hand-written migrations, not from the models."""
    if name is None:
        return True
    return not ("_fts" in name or name in ("search_vector", "ix_stories_search"))


context.configure(
    connection=connection,
    include_object=include_object,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
