"""Feed polling state: which feeds are due, and what the last poll found."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select

from watcher.config import FeedConfig
from watcher.store.db import Store
from watcher.store.tables import FeedState


@dataclass(frozen=True)
class FeedUpdate:
    """What one poll changes in a feed's state."""

    polled_at: datetime
    next_poll_at: datetime
    status: int | None
    error: str | None  # None = success
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    new_stories: int = 0


def sync_feeds(store: Store, feeds: Sequence[FeedConfig], now: datetime, default: float) -> None:
    """Make the feeds table follow the config: new feeds are due soon (jittered, no herd)."""
    with store.write() as s:
        rows = {r.name: r for r in s.exec(select(FeedState)).all()}
        for f in feeds:
            row = rows.get(f.name)
            interval = f.interval or default
            if row is None:
                jitter = random.uniform(0, min(interval / 10, 5.0)) if len(feeds) > 1 else 0.0
                s.add(
                    FeedState(
                        name=f.name,
                        url=f.url,
                        next_poll_at=now + timedelta(seconds=jitter),
                        interval=interval,
                    )
                )
            else:
                if row.url != f.url:
                    row.url, row.etag, row.last_modified, row.body_hash = f.url, None, None, None
                    row.next_poll_at = now
                row.interval = interval
                s.add(row)


def due_feeds(store: Store, now: datetime, names: Sequence[str]) -> list[str]:
    """Names of configured feeds whose next poll time has come, most overdue first."""
    with store.read() as s:
        rows = s.exec(
            select(FeedState.name)
            .where(col(FeedState.next_poll_at) <= now, col(FeedState.name).in_(list(names)))
            .order_by(col(FeedState.next_poll_at))
        ).all()
    return list(rows)


def feed_state(store: Store, name: str) -> FeedState | None:
    with store.read() as s:
        return s.exec(select(FeedState).where(FeedState.name == name)).first()


def all_feed_states(store: Store) -> list[FeedState]:
    with store.read() as s:
        return list(s.exec(select(FeedState).order_by(col(FeedState.name))).all())


def apply_update(row: FeedState, update: FeedUpdate) -> None:
    row.last_polled_at = update.polled_at
    row.next_poll_at = update.next_poll_at
    row.last_status = update.status
    if update.error is None:
        row.last_error = None
        row.consecutive_errors = 0
        row.last_success_at = update.polled_at
        if update.status != 304:
            row.etag, row.last_modified = update.etag, update.last_modified
            row.body_hash = update.body_hash or row.body_hash
        row.stories_seen += update.new_stories
    else:
        row.last_error = update.error
        row.consecutive_errors += 1
