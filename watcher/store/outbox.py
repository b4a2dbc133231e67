"""The alert outbox: alerts and their per-target deliveries, claimed under a lease and marked.

A sender claims due rows by writing its name and a lease expiry into them (with
`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises claimers),
sends each while its claim (or a later confirm, `store.claims`) is at most a quarter of a
lease old, and marks the rows sent, those sent together in one write. Its heartbeat renews the
leases meanwhile. A process that dies mid-send leaves rows whose short lease expires, and
another pass reclaims them: an alert is never lost, and is sent twice only if the process died
(or stalled past its lease) between a send and its mark.

Alerts about a story and alerts about a feed's health (kind `health`, no story) share the
outbox, so both get the same claiming, retries, rate limits, quiet hours and listing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from watcher.store.db import Store, insert_rows, next_ids
from watcher.store.matches import sources_of
from watcher.store.tables import AlertRow, DeliveryRow, DigestState, StoryRow

LEASE_SECONDS = 120.0
HEALTH = "health"  # the kind of an alert about a feed itself rather than a story


@dataclass(frozen=True)
class OutboxAlert:
    """An alert to write with its story (or a feed's health): one delivery row per target URL
    of the notifier."""

    notifier: str
    title: str
    context: dict[str, Any]
    targets: int
    kind: str = "alert"
    priority: str = "normal"
    held: bool = False  # waits for the notifier's digest
    rule_template: dict[str, str | None] | None = None


@dataclass(frozen=True)
class Claimed:
    id: int
    alert_id: int
    notifier: str
    target: int
    attempts: int
    priority: str
    kind: str
    title: str
    context: dict[str, Any]
    rule_template: dict[str, str | None] | None


def add_alert(s: Session, story_id: int | None, a: OutboxAlert, now: datetime) -> None:
    """In the caller's transaction, so the alert commits with its match (or the feed's new
    health) or not at all."""
    insert_alerts(s.connection(), [(story_id, a)], now)


ALERT_COLUMNS = [
    *("id", "story_id", "notifier", "kind", "priority", "title", "context"),
    *("rule_template", "created_at"),
]


def insert_alerts(
    conn: Connection, alerts: Sequence[tuple[int | None, OutboxAlert]], now: datetime
) -> None:
    """Alerts (story id or None, alert) and their deliveries, two executemany statements for
    any number: the alert ids are taken first, so the deliveries need no read-back of each
    alert (through the ORM, a flush per alert cost more than storing its story)."""
    if not alerts:
        return
    ids = next_ids(conn, "alerts", len(alerts))
    insert_rows(
        conn,
        AlertRow.__table__,  # type: ignore[attr-defined]
        ALERT_COLUMNS,
        [
            (
                aid,
                story_id,
                a.notifier,
                a.kind,
                a.priority,
                a.title,
                json.dumps(a.context, ensure_ascii=False),
                json.dumps(a.rule_template) if a.rule_template else None,
                now,
            )
            for aid, (story_id, a) in zip(ids, alerts, strict=True)
        ],
    )
    insert_rows(
        conn,
        DeliveryRow.__table__,  # type: ignore[attr-defined]
        ["alert_id", "notifier", "target", "status", "attempts", "next_attempt_at"],
        [
            (aid, a.notifier, target, "held" if a.held else "pending", 0, now)
            for aid, (_, a) in zip(ids, alerts, strict=True)
            for target in range(a.targets)
        ],
    )


def claim_due(
    store: Store, owner: str, now: datetime, limit: int = 100, lease: float = LEASE_SECONDS
) -> list[Claimed]:
    """Take up to `limit` due pending deliveries (or expired leases) for `owner`."""
    with store.write() as s:
        ids = list(
            s.exec(
                select(DeliveryRow.id)
                .where(
                    DeliveryRow.status == "pending",
                    col(DeliveryRow.next_attempt_at) <= now,
                    or_(col(DeliveryRow.lease_until).is_(None), col(DeliveryRow.lease_until) < now),
                )
                .order_by(col(DeliveryRow.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
        )
        if not ids:
            return []
        s.execute(
            update(DeliveryRow)
            .where(col(DeliveryRow.id).in_(ids))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease))
        )
        rows = s.exec(
            select(DeliveryRow, AlertRow, StoryRow)
            .join(AlertRow, col(AlertRow.id) == col(DeliveryRow.alert_id))
            .outerjoin(StoryRow, col(StoryRow.id) == col(AlertRow.story_id))
            .where(col(DeliveryRow.id).in_(ids))
            .order_by(col(DeliveryRow.id))
        ).all()
        # Copies of the story that arrived after the alert was written (often in the same poll
        # cycle) are named in the message: "also reported by".
        clusters = sources_of(s, [st.cluster_id for _, _, st in rows if st and st.cluster_id])
    out = []
    for d, a, st in rows:
        c = _claimed(d, a)
        if st is None:  # a feed-health alert
            out.append(c)
            continue
        feeds = clusters.get(st.cluster_id or -1, [])
        sources = [f for f in feeds if f != st.feed]
        if sources:
            c.context["sources"] = sources
            c.context["cluster_size"] = len(feeds)
        out.append(c)
    return out


def _claimed(d: DeliveryRow, a: AlertRow) -> Claimed:
    return Claimed(
        id=d.id or 0,
        alert_id=a.id or 0,
        notifier=d.notifier,
        target=d.target,
        attempts=d.attempts,
        priority=a.priority,
        kind=a.kind,
        title=a.title,
        context=json.loads(a.context),
        rule_template=json.loads(a.rule_template) if a.rule_template else None,
    )


def mark_sent(store: Store, ids: Sequence[int], now: datetime) -> None:
    with store.write() as s:
        s.execute(
            update(DeliveryRow)
            .where(col(DeliveryRow.id).in_(list(ids)))
            .values(
                status="sent",
                sent_at=now,
                attempts=DeliveryRow.attempts + 1,
                last_error=None,
                lease_owner=None,
                lease_until=None,
            )
        )


def mark_failed(store: Store, delivery_id: int, error: str, retry_at: datetime | None) -> None:
    """Count the attempt; retry at `retry_at`, or give up (`dead`) when it is None."""
    with store.write() as s:
        row = s.get(DeliveryRow, delivery_id)
        if row is None or row.status != "pending":
            return  # another process, which took the claim over meanwhile, settled it
        row.attempts += 1
        row.last_error = error[:2000]
        row.lease_owner = row.lease_until = None
        if retry_at is None:
            row.status = "dead"
        else:
            row.next_attempt_at = retry_at
        s.add(row)


def postpone(store: Store, delivery_id: int, until: datetime, why: str) -> None:
    """Not an attempt: quiet hours or a rate limit moved the send to `until`."""
    with store.write() as s:
        row = s.get(DeliveryRow, delivery_id)
        if row is not None and row.status == "pending":
            row.next_attempt_at, row.lease_owner, row.lease_until = until, None, None
            row.last_error = why
            s.add(row)


def release_leases(store: Store) -> int:
    """Forget every lease. Only for SQLite, where one process owns the file, so any lease
    found at start-up belonged to a process that died."""
    with store.write() as s:
        result = s.execute(
            update(DeliveryRow)
            .where(col(DeliveryRow.lease_owner).is_not(None))
            .values(lease_owner=None, lease_until=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def sent_since(store: Store, notifier: str, target: int, since: datetime) -> list[datetime]:
    """Send times to one target since `since`, oldest first (for rate limits)."""
    with store.read() as s:
        rows = s.exec(
            select(DeliveryRow.sent_at)
            .where(
                DeliveryRow.notifier == notifier,
                DeliveryRow.target == target,
                DeliveryRow.status == "sent",
                col(DeliveryRow.sent_at) >= since,
            )
            .order_by(col(DeliveryRow.sent_at))
        ).all()
    return [r for r in rows if r is not None]


def held(store: Store, notifier: str) -> list[Claimed]:
    """Deliveries waiting for this notifier's digest."""
    with store.read() as s:
        rows = s.exec(
            select(DeliveryRow, AlertRow)
            .join(AlertRow, col(AlertRow.id) == col(DeliveryRow.alert_id))
            .where(DeliveryRow.notifier == notifier, DeliveryRow.status == "held")
            .order_by(col(DeliveryRow.id))
        ).all()
    return [_claimed(d, a) for d, a in rows]


def digest_last_sent(store: Store, notifier: str) -> datetime | None:
    with store.read() as s:
        row = s.get(DigestState, notifier)
        return row.last_sent_at if row else None


def set_digest_sent(store: Store, notifier: str, now: datetime) -> None:
    with store.write() as s:
        row = s.get(DigestState, notifier) or DigestState(notifier=notifier, last_sent_at=now)
        row.last_sent_at = now
        s.add(row)


@dataclass(frozen=True)
class DeliveryInfo:
    id: int
    notifier: str
    target: int
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    kind: str
    title: str
    url: str | None


def list_deliveries(
    store: Store, status: str | None = None, limit: int = 200
) -> list[DeliveryInfo]:
    q = (
        select(DeliveryRow, AlertRow, StoryRow)
        .join(AlertRow, col(AlertRow.id) == col(DeliveryRow.alert_id))
        .outerjoin(StoryRow, col(StoryRow.id) == col(AlertRow.story_id))
    )
    if status:
        q = q.where(DeliveryRow.status == status)
    with store.read() as s:
        rows = s.exec(q.order_by(col(DeliveryRow.id).desc()).limit(limit)).all()
    return [
        DeliveryInfo(
            id=d.id or 0,
            notifier=d.notifier,
            target=d.target,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            sent_at=d.sent_at,
            last_error=d.last_error or _template_error(a.context),
            kind=a.kind,
            title=a.title,
            url=st.url if st else None,
        )
        for d, a, st in rows
    ]


def _template_error(context: str) -> str | None:
    """Why the alert went out in the default format: a rule template that failed to render."""
    if "template_error" not in context:
        return None
    value = json.loads(context).get("template_error")
    return value if isinstance(value, str) else None


REQUEUED_DUE_AT = datetime(2000, 1, 1, tzinfo=UTC)


def retry(store: Store, ids: Sequence[int] = (), all_dead: bool = False) -> int:
    """Put dead (or failed) deliveries back in the queue; never one that was sent.

    A requeued delivery is due at once for whichever clock the sender keeps: stamping this
    process's time would leave it waiting on a sender whose clock runs behind (a test's fixed
    clock, or another host's), so it gets a due time before any real send.
    """
    cond = col(DeliveryRow.status) == "dead" if all_dead else col(DeliveryRow.id).in_(list(ids))
    with store.write() as s:
        result = s.execute(
            update(DeliveryRow)
            .where(cond, col(DeliveryRow.status) != "sent")
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=REQUEUED_DUE_AT,
                lease_owner=None,
                lease_until=None,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


def count_sent_since(store: Store, since: datetime) -> int:
    """Deliveries sent since `since` (for the summary of `watcher run --once`)."""
    with store.read() as s:
        return int(
            s.exec(
                select(func.count()).where(
                    DeliveryRow.status == "sent", col(DeliveryRow.sent_at) >= since
                )
            ).one()
        )
