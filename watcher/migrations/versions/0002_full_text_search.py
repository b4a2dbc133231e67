"""full-text search: SQLite FTS5 over stories.search_text, PostgreSQL tsvector + GIN

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 07:30:00
"""

from __future__ import annotations

from alembic import op

from watcher.store.search import drop_search, install_search

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Creates the index and fills it from the stories already stored.
    install_search(op.get_bind())


def downgrade() -> None:
    drop_search(op.get_bind())
