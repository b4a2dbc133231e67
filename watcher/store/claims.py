"""Who holds a claim on a feed or a delivery, since when, and whether it is still theirs.

Several processes share the work through short leases in the rows themselves
(`lease_owner`, `lease_until`): a live process renews the leases of the work it has in flight
(a heartbeat, `renew_*`), so a process that dies, or is paused, loses its claims within one
lease and another takes them over; a live one never does.

A feed's claim carries a fencing token in `lease_owner`: `PROCESS/sequence@claimed-at`. The
poll that follows writes only while the feed still carries that token (`save_polls` checks it
under a row lock), so a process paused past its lease (SIGSTOP, a VM stall) cannot overwrite a
poll another process has made since. `PROCESS` is unique per process lifetime (host, pid, and a
random part: a restarted container has the same host name and pid 1), so a dead process's
claims are never renewed by its successor. No migration: the token fits the existing column.
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col

from watcher.store.db import Store
from watcher.store.tables import DeliveryRow, FeedState

PROCESS = f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(3)}"

_SEQUENCE = itertools.count(1)


def feed_token(now: datetime, owner: str = PROCESS) -> str:
    """A new fencing token for one claim of one feed."""
    return f"{owner}/{next(_SEQUENCE)}@{int(now.timestamp())}"


def holder(lease_owner: str | None) -> tuple[str | None, datetime | None]:
    """The process named in a lease, and when it claimed it (for `watcher feeds`)."""
    if not lease_owner:
        return None, None
    process, _, rest = lease_owner.partition("/")
    _, _, stamp = rest.partition("@")
    try:
        since = datetime.fromtimestamp(int(stamp), UTC) if stamp else None
    except (ValueError, OverflowError, OSError):
        since = None
    return process, since


def renew_feeds(store: Store, tokens: Collection[str], now: datetime, lease: float) -> int:
    """Extend the leases of feeds still carrying these tokens (polls in flight)."""
    if not tokens:
        return 0
    with store.write() as s:
        result = s.execute(
            update(FeedState)
            .where(col(FeedState.lease_owner).in_(list(tokens)))
            .values(lease_until=now + timedelta(seconds=lease))
        )
        return int(getattr(result, "rowcount", 0) or 0)


def renew_deliveries(
    store: Store, ids: Collection[int], now: datetime, lease: float, owner: str = PROCESS
) -> set[int]:
    """Extend the leases of these deliveries that `owner` still holds and that are still
    pending; returns those. The heartbeat renews what is in flight; the sender asks just
    before a send whether the rest of its claims are still its own, all in one write, so a
    process resumed after a pause finds its remaining claims taken and sends none of them."""
    if not ids:
        return set()
    with store.write() as s:
        renewed = s.execute(
            update(DeliveryRow)
            .where(
                col(DeliveryRow.id).in_(list(ids)),
                col(DeliveryRow.lease_owner) == owner,
                col(DeliveryRow.status) == "pending",
            )
            .values(lease_until=now + timedelta(seconds=lease))
            .returning(col(DeliveryRow.id))
        )
        return {int(i) for (i,) in renewed}


def release_claims(store: Store, owner: str = PROCESS) -> tuple[int, int]:
    """Give up every claim of `owner` (on shutdown): (feeds, deliveries) released."""
    with store.write() as s:
        feeds = s.execute(
            update(FeedState)
            .where(col(FeedState.lease_owner).startswith(f"{owner}/", autoescape=True))
            .values(lease_owner=None, lease_until=None)
        )
        deliveries = s.execute(
            update(DeliveryRow)
            .where(col(DeliveryRow.lease_owner) == owner)
            .values(lease_owner=None, lease_until=None)
        )
        return (
            int(getattr(feeds, "rowcount", 0) or 0),
            int(getattr(deliveries, "rowcount", 0) or 0),
        )
