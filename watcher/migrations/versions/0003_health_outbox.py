"""feed-health alerts join the outbox: alerts.story_id nullable, health_alerts dropped

Revision ID: 0003_health_outbox
Revises: 0002
Create Date: 2026-12-03 10:00:00

A health alert becomes an `alerts` row of kind `health` with no story, its title and body in
the context, and one `deliveries` row per target. Pending rows of the old table move over with
their attempts, due time and last error; sent and dead ones were history and are dropped with
the table. Frozen: this file imports nothing from watcher, whatever the models say later.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003_health_outbox"
down_revision = "0002"
branch_labels = None
depends_on = None

ALERTS = sa.table(
    "alerts",
    sa.column("id"),
    sa.column("story_id"),
    sa.column("notifier"),
    sa.column("kind"),
    sa.column("priority"),
    sa.column("title"),
    sa.column("context"),
    sa.column("rule_template"),
    sa.column("created_at"),
)
DELIVERIES = sa.table(
    "deliveries",
    sa.column("id"),
    sa.column("alert_id"),
    sa.column("notifier"),
    sa.column("target"),
    sa.column("status"),
    sa.column("attempts"),
    sa.column("next_attempt_at"),
    sa.column("last_error"),
    sa.column("sent_at"),
    sa.column("lease_owner"),
    sa.column("lease_until"),
)
HEALTH_ALERTS = sa.table(
    "health_alerts",
    sa.column("id"),
    sa.column("feed"),
    sa.column("kind"),
    sa.column("notifier"),
    sa.column("target"),
    sa.column("title"),
    sa.column("body"),
    sa.column("created_at"),
    sa.column("status"),
    sa.column("attempts"),
    sa.column("next_attempt_at"),
    sa.column("last_error"),
    sa.column("sent_at"),
)


@contextmanager
def _deliveries_set_aside() -> Iterator[None]:
    """SQLite changes a column by copying the table, and dropping `alerts` with foreign keys
    on would delete it out from under `deliveries`: the deliveries wait in a copy meanwhile.
    PostgreSQL alters the column in place."""
    if op.get_bind().dialect.name != "sqlite":
        yield
        return
    op.execute("CREATE TABLE _deliveries_0003 AS SELECT * FROM deliveries")
    op.execute("DELETE FROM deliveries")
    yield
    op.execute("INSERT INTO deliveries SELECT * FROM _deliveries_0003")
    op.execute("DROP TABLE _deliveries_0003")


def upgrade() -> None:
    with _deliveries_set_aside(), op.batch_alter_table("alerts") as batch:
        batch.alter_column("story_id", existing_type=sa.Integer(), nullable=True)
    conn = op.get_bind()
    pending = conn.execute(
        sa.select(HEALTH_ALERTS)
        .where(HEALTH_ALERTS.c.status == "pending")
        .order_by(HEALTH_ALERTS.c.id)
    ).all()

    def one_event(r: Any) -> tuple[Any, ...]:
        return (r.feed, r.kind, r.notifier, str(r.created_at), r.title)

    for _, group in groupby(pending, key=one_event):
        rows = list(group)
        first = rows[0]
        context = {
            "feed": first.feed,
            "event": first.kind,
            "title": first.title,
            "body": first.body,
        }
        alert_id = conn.execute(
            ALERTS.insert()
            .values(
                story_id=None,
                notifier=first.notifier,
                kind="health",
                priority="normal",
                title=first.title,
                context=json.dumps(context, ensure_ascii=False),
                rule_template=None,
                created_at=first.created_at,
            )
            .returning(ALERTS.c.id)
        ).scalar_one()
        for r in rows:
            conn.execute(
                DELIVERIES.insert().values(
                    alert_id=alert_id,
                    notifier=r.notifier,
                    target=r.target,
                    status="pending",
                    attempts=r.attempts,
                    next_attempt_at=r.next_attempt_at,
                    last_error=r.last_error,
                )
            )
    op.drop_table("health_alerts")  # and its indexes


def downgrade() -> None:
    """Pending health deliveries go back to their own table; the rest of them are dropped."""
    op.create_table(
        "health_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("notifier", sa.String(length=200), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("health_alerts") as batch:
        batch.create_index("ix_health_alert_due", ["status", "next_attempt_at"], unique=False)
        batch.create_index("ix_health_alerts_feed", ["feed"], unique=False)
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(DELIVERIES, ALERTS.c.context, ALERTS.c.created_at)
        .join(ALERTS, ALERTS.c.id == DELIVERIES.c.alert_id)
        .where(ALERTS.c.kind == "health", DELIVERIES.c.status == "pending")
        .order_by(DELIVERIES.c.id)
    ).all()
    for r in rows:
        context = json.loads(r.context)
        conn.execute(
            HEALTH_ALERTS.insert().values(
                feed=context["feed"],
                kind=context["event"],
                notifier=r.notifier,
                target=r.target,
                title=context["title"],
                body=context["body"],
                created_at=r.created_at,
                status="pending",
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at,
                last_error=r.last_error,
            )
        )
    health = sa.select(ALERTS.c.id).where(ALERTS.c.story_id.is_(None))
    conn.execute(DELIVERIES.delete().where(DELIVERIES.c.alert_id.in_(health)))
    conn.execute(ALERTS.delete().where(ALERTS.c.story_id.is_(None)))
    with _deliveries_set_aside(), op.batch_alter_table("alerts") as batch:
        batch.alter_column("story_id", existing_type=sa.Integer(), nullable=False)
