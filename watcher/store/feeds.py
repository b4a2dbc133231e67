"""Feed polling state: which feeds are due, and what the last poll found."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, or_
from sqlalchemy import select as sa_select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from watcher.config import FeedConfig
from watcher.store.claims import feed_token
from watcher.store.db import Store
from watcher.store.tables import FeedState


@dataclass(frozen=True)
class FeedUpdate:
    """What one poll changes in a feed's state. Fields left at their default change nothing,
    except where noted."""

    polled_at: datetime
    next_poll_at: datetime
    status: int | None
    error: str | None  # None = success
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    new_stories: int = 0
    interval: float | None = None
    item_rate: float | None = None
    publisher_interval: float | None = None
    moved_to: str | None = None  # on success: the pending 301/308 target (None clears it)
    moved_seen: int = 0
    url: str | None = None  # a confirmed move: the stored URL becomes this
    possible_gap: bool = False
    disabled_reason: str | None = None  # set: the feed is disabled (410)


def sync_feeds(
    store: Store, feeds: Sequence[FeedConfig], now: datetime, default: float
) -> frozenset[str]:
    """Make the feeds table follow the config: new feeds are due soon (jittered, no herd).
    Returns the names of the table's other feeds (removed from the config, kept for their
    history), which the dispatcher leaves out of its claims.

    A feed whose config URL changed starts afresh (validators, errors, a 410 disable, a pending
    move); one whose stored URL moved through a confirmed 301 keeps it while the config still
    names the old URL. A pinned `interval` is applied; an adaptive one is kept across restarts.
    Processes starting together may race to insert the same new feed: the loser tries again
    and finds the row.
    """
    try:
        return _sync_feeds(store, feeds, now, default)
    except IntegrityError:
        return _sync_feeds(store, feeds, now, default)


def _sync_feeds(
    store: Store, feeds: Sequence[FeedConfig], now: datetime, default: float
) -> frozenset[str]:
    with store.write() as s:
        rows = {r.name: r for r in s.exec(select(FeedState)).all()}
        others = frozenset(rows.keys() - {f.name for f in feeds})
        for f in feeds:
            row = rows.get(f.name)
            interval = f.interval or default
            if row is None:
                jitter = random.uniform(0, min(interval / 10, 5.0)) if len(feeds) > 1 else 0.0
                s.add(
                    FeedState(
                        name=f.name,
                        url=f.url,
                        config_url=f.url,
                        next_poll_at=now + timedelta(seconds=jitter),
                        interval=interval,
                    )
                )
                continue
            configured = row.config_url if row.config_url is not None else row.url
            if configured != f.url:
                _restart(row, f.url, now)
            row.config_url = f.url
            if f.interval is not None:
                row.interval = f.interval
            s.add(row)
    return others


def _restart(row: FeedState, url: str, now: datetime) -> None:
    row.url, row.etag, row.last_modified, row.body_hash = url, None, None, None
    row.moved_to, row.moved_seen = None, 0
    row.disabled_at, row.disabled_reason = None, None
    row.consecutive_errors, row.first_error_at, row.last_error = 0, None, None
    row.next_poll_at = now


def claim_due_feeds(
    store: Store,
    owner: str,
    now: datetime,
    names: Collection[str],
    lease: float,
    limit: int = 500,
    skip: Collection[str] = (),
) -> list[tuple[str, str]]:
    """Claim due feeds for `owner` until `now + lease`, most overdue first: (name, fencing
    token) pairs. With several processes on PostgreSQL, `FOR UPDATE SKIP LOCKED` and the lease
    make each poll happen once; the claimer renews the lease while the poll runs (see
    `store.claims`), so a process that dies or stalls loses its claims within one lease.
    Saving the poll releases it.

    Only feeds in `names` (those this process polls) are claimed. `skip`: feeds left out in the
    query itself: those this process is already polling (a second claim would fence out the
    poll in flight) and those the table holds but the config no longer names (they would fill
    the `limit` every time). `names` is matched here rather than in the query: ten thousand
    bound names every two seconds were most of an idle daemon's CPU."""
    table = FeedState.__table__  # type: ignore[attr-defined]
    query = select(FeedState.id, FeedState.name).where(
        col(FeedState.next_poll_at) <= now,
        col(FeedState.disabled_at).is_(None),
        or_(col(FeedState.lease_until).is_(None), col(FeedState.lease_until) < now),
    )
    if skip:
        query = query.where(col(FeedState.name).not_in(list(skip)))
    with store.write() as s:
        rows = list(
            s.exec(
                query.order_by(col(FeedState.next_poll_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
        )
        claims = [(fid, name, feed_token(now, owner)) for fid, name in rows if name in names]
        if claims:
            s.connection().execute(
                sql_update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(lease_owner=bindparam("b_owner"), lease_until=bindparam("b_until")),
                [
                    {"b_id": fid, "b_owner": token, "b_until": now + timedelta(seconds=lease)}
                    for fid, _, token in claims
                ],
            )
    return [(name, token) for _, name, token in claims]


def release_feed_leases(store: Store, owner: str | None = None) -> int:
    """Give up claims: this process's on shutdown, or all of them on SQLite at start-up."""
    with store.write() as s:
        q = sql_update(FeedState).where(col(FeedState.lease_owner).is_not(None))
        if owner is not None:
            q = q.where(col(FeedState.lease_owner) == owner)
        result = s.execute(q.values(lease_owner=None, lease_until=None))
        return int(getattr(result, "rowcount", 0) or 0)


def feed_state(store: Store, name: str) -> FeedState | None:
    with store.read() as s:
        return s.exec(select(FeedState).where(FeedState.name == name)).first()


# A feed's state as a poll reads it: the table's plain row (the columns as attributes), not a
# model object: a poll only reads it, and a model object costs about five times as much to
# build (most of the state read before each poll).
StateRow = Row[Any]


def feed_states(store: Store, names: Sequence[str]) -> list[StateRow | None]:
    """Several feeds' states in one query, in the order asked."""
    table = FeedState.__table__  # type: ignore[attr-defined]
    with store.read() as s:
        rows = s.execute(sa_select(table).where(table.c.name.in_(set(names)))).all()
    by_name = {r.name: r for r in rows}
    return [by_name.get(n) for n in names]


def all_feed_states(store: Store) -> list[FeedState]:
    with store.read() as s:
        return list(s.exec(select(FeedState).order_by(col(FeedState.name))).all())


def write_states(s: Session, changes: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Each (feed name, state_changes) as UPDATEs, one executemany per set of changed columns:
    a cycle of 304s changes the same four columns of every feed."""
    table = FeedState.__table__  # type: ignore[attr-defined]
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for name, change in changes:
        if change:
            groups.setdefault(tuple(sorted(change)), []).append({**change, "b_name": name})
    for columns, params in groups.items():
        stmt = (
            sql_update(table)
            .where(table.c.name == bindparam("b_name"))
            .values({c: bindparam(c) for c in columns})
        )
        s.connection().execute(stmt, params)


def state_changes(row: FeedState | Row[Any], update: FeedUpdate) -> dict[str, Any]:
    """The columns a poll changes in the feed's state (a model object or a plain row of the
    table), and their new values. Only changed ones: a 304 changes four columns of twenty."""
    out: dict[str, Any] = {}

    def set_(name: str, value: object) -> None:
        if getattr(row, name) != value:
            out[name] = value

    set_("lease_owner", None)  # the poll is over: the feed may be claimed again
    set_("lease_until", None)
    set_("last_polled_at", update.polled_at)
    set_("next_poll_at", update.next_poll_at)
    set_("last_status", update.status)
    if update.interval is not None:
        set_("interval", update.interval)
    if update.error is None:
        set_("last_error", None)
        set_("consecutive_errors", 0)
        set_("first_error_at", None)
        set_("last_success_at", update.polled_at)
        if update.status != 304:
            set_("etag", update.etag)
            set_("last_modified", update.last_modified)
            set_("body_hash", update.body_hash or row.body_hash)
        if update.new_stories:
            set_("stories_seen", row.stories_seen + update.new_stories)
        if update.item_rate is not None:
            set_("item_rate", update.item_rate)
        if update.publisher_interval is not None:
            set_("publisher_interval", update.publisher_interval)
        if update.new_stories:
            set_("last_new_at", update.polled_at)
            rate = update.item_rate if update.item_rate is not None else row.item_rate
            set_("usual_gap", 1.0 / rate if rate else row.usual_gap)
        set_("moved_to", update.moved_to)
        set_("moved_seen", update.moved_seen)
        if update.url is not None:
            set_("url", update.url)
        if update.possible_gap:
            set_("possible_gaps", row.possible_gaps + 1)
            set_("last_gap_at", update.polled_at)
    else:
        set_("last_error", update.error)
        set_("consecutive_errors", row.consecutive_errors + 1)
        set_("first_error_at", row.first_error_at or update.polled_at)
        if update.disabled_reason is not None:
            set_("disabled_at", update.polled_at)
            set_("disabled_reason", update.disabled_reason)
    return out
