"""full-text search: SQLite FTS5 over stories.search_text, PostgreSQL tsvector + GIN

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 07:30:00

Frozen: the DDL is written out here, not imported from watcher.store.search, so this revision
stays what it was when the live module changes. The index covers `search_text` as stored:
every writer since 0001 fills it (the pipeline folds title, summary and body into it). Folding an
empty one is the live matcher's work and cannot be frozen here; the start-up check
(`watcher.store.search.ensure_search`) does it when it has to build the index itself.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FTS_TABLE = "stories_fts"
PG_INDEX = "ix_stories_search"
PG_COLUMN = "search_vector"
PG_TEXT_CAP = 250_000  # a tsvector over 1 MB is an error; see watcher.store.search
TRIGGERS = {
    f"{FTS_TABLE}_ai": f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON stories BEGIN
        INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    f"{FTS_TABLE}_ad": f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON stories BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text)
            VALUES ('delete', old.id, old.search_text);
    END""",
    f"{FTS_TABLE}_au": f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au
    AFTER UPDATE OF search_text ON stories BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text)
            VALUES ('delete', old.id, old.search_text);
        INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(search_text, "
            "content='stories', content_rowid='id', tokenize='unicode61')"
        )
        for ddl in TRIGGERS.values():
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"ALTER TABLE stories ADD COLUMN IF NOT EXISTS {PG_COLUMN} tsvector GENERATED ALWAYS "
            f"AS (to_tsvector('simple'::regconfig, left(search_text, {PG_TEXT_CAP}))) STORED"
        )
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON stories USING gin ({PG_COLUMN})"
        )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for name in TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")
        conn.exec_driver_sql(f"ALTER TABLE stories DROP COLUMN IF EXISTS {PG_COLUMN}")
