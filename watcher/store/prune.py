"""Retention deletes, one short transaction per batch.

Each call deletes at most `batch` rows of one kind and returns, so the caller loops and no
transaction holds SQLite's write lock (or PostgreSQL row locks) for long while the pipeline
keeps writing. Rows that depend on a deleted row are found through the foreign keys in the
table metadata, not a hand-kept list, so a table added later (clusters, updates, ...) is
cleaned up too: a NOT NULL reference is deleted with its target, a nullable one is set NULL
unless its column says otherwise (`info={"delete_with_target": True}`: a story's alerts, where
NULL is kept for feed-health alerts, which have no story).
The FTS rows go with their stories through the triggers (SQLite) or the index (PostgreSQL).

A story with a pending or held delivery is never deleted, whatever its age: its alert has not
gone out yet. On PostgreSQL the chosen rows are locked (`FOR UPDATE SKIP LOCKED`) so a
process writing to one of them right now keeps it, and no reference to it can appear before
it is gone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import Column, Select, Table, delete, func, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col

from watcher.store.db import Store
from watcher.store.tables import AlertRow, DeliveryRow, MatchRow, StoryRow

WAITING = ("pending", "held")
FINISHED = ("sent", "dead")


def _undelivered() -> ColumnElement[bool]:
    """The story has an alert still waiting to be sent."""
    return (
        select(col(DeliveryRow.id))
        .join(AlertRow, col(AlertRow.id) == col(DeliveryRow.alert_id))
        .where(col(AlertRow.story_id) == col(StoryRow.id), col(DeliveryRow.status).in_(WAITING))
        .exists()
    )


def _matched() -> ColumnElement[bool]:
    return select(col(MatchRow.id)).where(col(MatchRow.story_id) == col(StoryRow.id)).exists()


def prune_stories(store: Store, before: datetime, matched: bool, batch: int) -> Counter[str]:
    """Delete up to `batch` stories first seen before `before` (matched or unmatched ones)
    with everything that depends on them; the counts are rows per table."""
    q = select(col(StoryRow.id)).where(
        col(StoryRow.first_seen_at) < before,
        _matched() if matched else ~_matched(),
        ~_undelivered(),
    )
    return _delete_batch(store, _table("stories"), q.order_by(col(StoryRow.id)).limit(batch))


def prune_deliveries(store: Store, before: datetime, batch: int) -> Counter[str]:
    """Up to `batch` sent or dead deliveries that finished before `before`."""
    finished = func.coalesce(DeliveryRow.sent_at, DeliveryRow.next_attempt_at)
    q = select(col(DeliveryRow.id)).where(col(DeliveryRow.status).in_(FINISHED), finished < before)
    return _delete_batch(store, _table("deliveries"), q.order_by(col(DeliveryRow.id)).limit(batch))


def prune_orphan_alerts(store: Store, before: datetime, batch: int) -> Counter[str]:
    """Up to `batch` alerts created before `before` that no delivery refers to any more
    (story alerts and feed-health alerts alike)."""
    has_delivery = select(col(DeliveryRow.id)).where(col(DeliveryRow.alert_id) == col(AlertRow.id))
    q = select(col(AlertRow.id)).where(col(AlertRow.created_at) < before, ~has_delivery.exists())
    return _delete_batch(store, _table("alerts"), q.order_by(col(AlertRow.id)).limit(batch))


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def _delete_batch(store: Store, table: Table, ids_query: Select[int | None]) -> Counter[str]:
    counts: Counter[str] = Counter()
    with store.write() as s:
        q = ids_query
        if not store.is_sqlite:
            q = q.with_for_update(skip_locked=True, of=table)
        ids = [int(i) for i in s.execute(q).scalars().all() if i is not None]
        if ids:
            _delete(s, table, ids, counts)
    return counts


@cache
def _references(table: Table) -> tuple[tuple[Table, Column[int], bool], ...]:
    """(table, column, detach) for every foreign key pointing at `table`'s rows; `detach`:
    set the reference NULL rather than delete the row."""
    found = []
    for other in SQLModel.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is table and fk.parent.table is other:
                detach = fk.parent.nullable and not fk.parent.info.get("delete_with_target")
                found.append((other, fk.parent, bool(detach)))
    return tuple(found)


def _delete(s: Session, table: Table, ids: Sequence[int], counts: Counter[str]) -> None:
    for child, column, detach in _references(table):
        if detach:
            s.execute(update(child).where(column.in_(ids)).values({column.name: None}))
            continue
        if _references(child):
            (key,) = child.primary_key.columns
            child_ids = [int(i) for i in s.execute(select(key).where(column.in_(ids))).scalars()]
            if child_ids:
                _delete(s, child, child_ids, counts)
            continue
        result = s.execute(delete(child).where(column.in_(ids)))
        counts[child.name] += int(getattr(result, "rowcount", 0) or 0)
    (key,) = table.primary_key.columns
    result = s.execute(delete(table).where(key.in_(ids)))
    counts[table.name] += int(getattr(result, "rowcount", 0) or 0)
