"""The delivery side of the outbox: which deliveries are due, and their outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from watcher.store.db import Store
from watcher.store.tables import AlertRow, DeliveryRow

MAX_ATTEMPTS = 12
BACKOFF_BASE = 30.0  # seconds; doubles per failed attempt
BACKOFF_CAP = 6 * 3600.0


@dataclass(frozen=True)
class DueDelivery:
    id: int
    notifier: str
    target: int
    attempts: int
    title: str
    body: str


def due_deliveries(store: Store, now: datetime, limit: int = 200) -> list[DueDelivery]:
    with store.read() as s:
        rows = s.exec(
            select(DeliveryRow, AlertRow)
            .join(AlertRow, col(AlertRow.id) == col(DeliveryRow.alert_id))
            .where(DeliveryRow.status == "pending", col(DeliveryRow.next_attempt_at) <= now)
            .order_by(col(DeliveryRow.id))
            .limit(limit)
        ).all()
    return [
        DueDelivery(
            id=d.id or 0,
            notifier=d.notifier,
            target=d.target,
            attempts=d.attempts,
            title=a.title,
            body=a.body,
        )
        for d, a in rows
    ]


def mark_sent(store: Store, delivery_id: int, now: datetime) -> None:
    with store.write() as s:
        row = s.get(DeliveryRow, delivery_id)
        if row is not None:
            row.status, row.sent_at, row.attempts, row.last_error = (
                "sent",
                now,
                row.attempts + 1,
                None,
            )
            s.add(row)


def mark_failed(store: Store, delivery_id: int, now: datetime, error: str) -> str:
    """Schedule a retry with exponential backoff, or give up as `dead` after MAX_ATTEMPTS."""
    with store.write() as s:
        row = s.get(DeliveryRow, delivery_id)
        if row is None:
            return "gone"
        row.attempts += 1
        row.last_error = error[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "dead"
        else:
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (row.attempts - 1))
            row.next_attempt_at = now + timedelta(seconds=delay)
        s.add(row)
        return row.status


def pending_count(store: Store) -> int:
    with store.read() as s:
        return len(s.exec(select(DeliveryRow.id).where(DeliveryRow.status == "pending")).all())
