"""Stories, matches and the alert outbox, written together in one transaction per poll.

A match and its pending deliveries commit atomically with the story: a crash either loses the
whole poll (and the next poll finds the stories new again) or keeps match and outbox together,
so an alert is never lost between "matched" and "queued".
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, col, select

from watcher.errors import StoreError
from watcher.model import NewStory
from watcher.neardup import Fingerprint, pack
from watcher.rules import RuleMatch
from watcher.store.clusters import (
    WINDOW,
    ClusterInfo,
    ClusterKeys,
    Lookalikes,
    Nearby,
    Rank,
    cluster_state,
    find_cluster,
    index_stories,
)
from watcher.store.db import Store, bind, insert_rows, next_ids, refused_write
from watcher.store.feeds import FeedUpdate, state_changes, write_states
from watcher.store.outbox import OutboxAlert, add_alert, insert_alerts
from watcher.store.tables import (
    AlertRow,
    FeedState,
    MatchRow,
    StoryBand,
    StoryRow,
    StoryUpdate,
)

log = logging.getLogger("watcher.store")
_SEEN_AT = StoryBand.__table__.c.seen_at  # type: ignore[attr-defined]


AlertBuilder = Callable[[ClusterInfo], tuple[OutboxAlert, ...]]


@dataclass(frozen=True)
class StoryToSave:
    """A new story with its matches. `alerts` is decided inside the write transaction, once the
    story's cluster is known (a rule alerts once per cluster), hence a function."""

    story: NewStory
    matches: tuple[RuleMatch, ...] = ()
    alerts: AlertBuilder | tuple[OutboxAlert, ...] = ()
    fingerprint: Fingerprint | None = None


@dataclass(frozen=True)
class Known:
    keys: frozenset[str]
    urls: frozenset[str]
    hashes: frozenset[str]
    # (story id, stored title) by key and by canonical URL, to notice changed headlines
    titles: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class KnownAsk:
    """One poll's question to `known_many`: its entries' keys, canonical links, content hashes."""

    feed: str
    keys: tuple[str, ...]
    urls: tuple[str, ...]
    hashes: tuple[str, ...]


def known_many(store: Store, asks: Sequence[KnownAsk]) -> list[Known]:
    """For each poll, which of its identities its feed already stored: key, canonical link or
    content hash (a GUID that churns on every fetch does not make a story new). The same story
    from another feed is new there and joins that story's cluster instead (store.clusters).
    One read transaction for the polls that finish together."""
    with store.read() as s:
        return [_known(s, ask) for ask in asks]


def _known(s: Session, ask: KnownAsk) -> Known:
    conds = []
    if ask.keys:
        conds.append(col(StoryRow.key).in_(ask.keys))
    if ask.urls:
        conds.append(col(StoryRow.canonical_url).in_(ask.urls))
    if ask.hashes:
        conds.append(col(StoryRow.content_hash).in_(ask.hashes))
    if not conds:
        return Known(frozenset(), frozenset(), frozenset())
    rows = s.execute(
        sa_select(
            col(StoryRow.id),
            col(StoryRow.key),
            col(StoryRow.canonical_url),
            col(StoryRow.content_hash),
            col(StoryRow.title),
        ).where(col(StoryRow.feed) == ask.feed, or_(*conds))
    ).all()
    titles: dict[str, tuple[int, str]] = {}
    for sid, key, url, _, title in rows:
        titles[key] = (sid or 0, title)
        if url:
            titles.setdefault(url, (sid or 0, title))
    return Known(
        keys=frozenset(r[1] for r in rows),
        urls=frozenset(r[2] for r in rows if r[2]),
        hashes=frozenset(r[3] for r in rows),
        titles=titles,
    )


@dataclass(frozen=True)
class UpdateToSave:
    """A stored story seen again with a materially different headline."""

    story_id: int
    title: str
    summary: str
    search_text: str
    matches: tuple[RuleMatch, ...] = ()
    alerts: tuple[OutboxAlert, ...] = ()


def story_bodies(store: Store, ids: Sequence[int]) -> dict[int, str]:
    with store.read() as s:
        rows = s.exec(select(StoryRow.id, StoryRow.body).where(col(StoryRow.id).in_(list(ids))))
        return {sid or 0: body for sid, body in rows.all()}


@dataclass(frozen=True)
class PollToSave:
    """One poll's outcome: the feed's new state, its new stories (with their matches and
    outbox rows) and the headline changes of stories it already had."""

    feed: str
    update: FeedUpdate
    items: Sequence[StoryToSave] = ()
    updates: Sequence[UpdateToSave] = ()
    claim: str | None = None  # the fencing token of the claim it ran under (None: unclaimed)


class ClaimLost(StoreError):
    """The feed was claimed by another process while this poll ran (this one stalled past its
    lease): the other process's poll stands, and nothing of this one is stored."""


def save_poll(
    store: Store,
    feed: str,
    update: FeedUpdate,
    items: Sequence[StoryToSave],
    updates: Sequence[UpdateToSave] = (),
) -> None:
    (failed,) = save_polls(store, [PollToSave(feed, update, items, updates)])
    if failed is not None:
        raise failed


def save_polls(store: Store, polls: Sequence[PollToSave]) -> list[StoreError | None]:
    """Several polls in one transaction (a group commit: a thousand feeds polled together would
    otherwise commit a thousand times, rewriting the same index pages each time), each poll in a
    savepoint of its own, so that one that cannot be stored fails alone: its error is returned
    in its place and the others commit. A poll for a feed no longer in the table is dropped."""
    out: list[StoreError | None] = []
    with store.write() as s:
        table = FeedState.__table__  # type: ignore[attr-defined]
        names = {p.feed for p in polls}
        # plain rows, not model objects: only read, and a thousand of them cost a third less
        query = sa_select(table).where(table.c.name.in_(names))
        if any(p.claim is not None for p in polls):
            query = query.with_for_update()  # no claimer takes them while the token is checked
        rows = s.execute(query).all()
        by_name = {r.name: r for r in rows}
        fenced = {
            p.feed
            for p in polls
            if p.claim is not None and p.feed in by_name and by_name[p.feed].lease_owner != p.claim
        }
        if fenced:
            log.warning("claims lost while polling (another process took them): %s", sorted(fenced))
            for name in fenced:
                del by_name[name]
        nearby = Nearby(set(), set(), set())
        lookalikes = Lookalikes(None, {})
        if any(p.items for p in polls):
            # Cluster decisions read other processes' stories: take them one at a time.
            store.serialize(s, "stories")
            now = max(p.update.polled_at for p in polls if p.items)
            keys = [_cluster_keys(i) for p in polls for i in p.items]
            nearby = Nearby.around(s, keys, now)
            lookalikes = _lookalikes(s, polls, nearby)
        # a 304 or an error: nothing that can fail alone, and a cycle of them shares one shape
        write_states(
            s,
            [
                (p.feed, state_changes(by_name[p.feed], p.update))
                for p in polls
                if p.feed in by_name and not (p.items or p.updates)
            ],
        )
        for poll in polls:
            row = by_name.get(poll.feed)
            if poll.feed in fenced:
                out.append(ClaimLost(f"feed {poll.feed}: claimed by another process meanwhile"))
                continue
            if row is None or not (poll.items or poll.updates):
                out.append(None)
                continue
            try:
                with s.begin_nested():
                    write_states(s, [(poll.feed, state_changes(row, poll.update))])
                    if poll.items:
                        _save_stories(
                            s, poll.feed, poll.items, poll.update.polled_at, nearby, lookalikes
                        )
                    for upd in poll.updates:
                        with s.begin_nested():
                            _save_update(s, upd, poll.update.polled_at)
            except Exception as exc:  # the alerts callback runs feed content through templates
                if isinstance(exc, DBAPIError) and refused_write(exc) is not None:
                    # the database refused the write (full, read-only, away), not this poll's
                    # content: the transaction fails whole (SQLite has already rolled it back)
                    raise
                log.exception("feed=%s: this poll could not be stored", poll.feed)
                out.append(StoreError(f"feed {poll.feed}: the poll could not be stored: {exc}"))
            else:
                out.append(None)
    return out


def _lookalikes(s: Session, polls: Sequence[PollToSave], nearby: Nearby) -> Lookalikes:
    conn = s.connection()
    earliest = min(p.update.polled_at for p in polls if p.items) - WINDOW
    keys = {k for p in polls for i in p.items if i.fingerprint for k in i.fingerprint.bands}
    return Lookalikes.read(conn, keys & nearby.bands, bind(conn, _SEEN_AT, earliest))


def _save_stories(
    s: Session,
    feed: str,
    items: Sequence[StoryToSave],
    now: datetime,
    nearby: Nearby,
    lookalikes: Lookalikes,
) -> None:
    """Almost every new story starts its own cluster, and those are written together: one
    multi-row insert for the stories and one for their band keys, instead of a savepoint, five
    cluster queries and ~45 row writes each (5 ms a story, most of a first poll's cost). A story
    that may join a cluster takes the careful path, after what precedes it is written, so it
    sees exactly what it would have seen had every story been saved one by one: one whose link
    or title is already in the window (`nearby`), or one that `lookalikes` finds to be the same
    story as a stored or earlier written one through its band keys (then its cluster is known,
    and find_cluster does not read the buckets again). Sharing a band key by chance, without
    being the same story, keeps a story in the batch."""
    fresh: list[tuple[StoryToSave, int, Rank | None]] = []  # compared with, rank in lookalikes
    conn = s.connection()
    since, seen = bind(conn, _SEEN_AT, now - WINDOW), bind(conn, _SEEN_AT, now)
    for item in items:
        keys = _cluster_keys(item)
        fp = item.fingerprint
        joins, compared = None, 0
        if fp is not None and nearby.shares_band(keys):
            joins, compared = lookalikes.decide(fp, since)
        rank = lookalikes.add(fp, item.story.title_key, seen) if fp is not None else None
        linked = nearby.linked(keys)
        if joins is not None or linked:
            _insert_fresh(s, feed, fresh, now, lookalikes)
            fresh = []
            # the cluster its band keys lead to, when nothing else may decide it
            known = None
            if joins is not None and not linked:
                cluster = lookalikes.cluster_of(joins)
                known = (cluster, compared) if cluster is not None else None
            got = _save_one(s, feed, item, now, known)
            if got is not None and rank is not None:
                lookalikes.clusters[rank] = got
        else:
            fresh.append((item, compared, rank))
        nearby.add(keys)
    _insert_fresh(s, feed, fresh, now, lookalikes)


def _cluster_keys(item: StoryToSave) -> ClusterKeys:
    return item.story.canonical_url, item.story.title_key, item.fingerprint


def _save_one(
    s: Session,
    feed: str,
    item: StoryToSave,
    now: datetime,
    known: tuple[int, int] | None = None,
) -> int | None:
    """The story in a savepoint of its own; its cluster id, or None if it was skipped.
    `known`: (cluster, stories compared) when the band keys decided it and no link or title
    may (Lookalikes), so find_cluster need not read the buckets again."""
    try:
        with s.begin_nested():
            return _save_story(s, feed, item, now, known)
    except IntegrityError:
        # Another process stored this story first (a lease ran out mid-poll): the unique
        # constraint keeps one copy, and the rest of the poll still commits.
        log.warning("feed=%s story %r was already stored; skipped", feed, item.story.key)
        return None


def _insert_fresh(
    s: Session,
    feed: str,
    items: Sequence[tuple[StoryToSave, int, Rank | None]],
    now: datetime,
    lookalikes: Lookalikes,
) -> None:
    if not items:
        return
    try:
        with s.begin_nested():
            ids = _insert_batch(s, [(item, compared) for item, compared, _ in items], now)
    except IntegrityError:
        # find the one already stored; keep the others
        got = [_save_one(s, feed, item, now) for item, _, _ in items]
    else:
        got = list(ids)
    for (_, _, rank), cluster in zip(items, got, strict=True):
        if rank is not None and cluster is not None:
            lookalikes.clusters[rank] = cluster


def _insert_batch(s: Session, batch: Sequence[tuple[StoryToSave, int]], now: datetime) -> list[int]:
    """Stories that start their own cluster, with their index rows. Ids are taken first, so
    that cluster_id = id is written with the row and not by an update (which PostgreSQL would
    pay for with a second copy of the row and a second tsvector)."""
    conn = s.connection()
    items = [item for item, _ in batch]
    ids = next_ids(conn, "stories", len(items))
    fields = [f.name for f in dataclasses.fields(NewStory)]
    rows = [
        (
            *(getattr(item.story, f) for f in fields),
            sid,
            sid,
            pack(item.fingerprint.signature) if item.fingerprint else None,
        )
        for sid, item in zip(ids, items, strict=True)
    ]
    stories = StoryRow.__table__  # type: ignore[attr-defined]
    insert_rows(conn, stories, [*fields, "id", "cluster_id", "signature"], rows)
    index_stories(
        conn, [(sid, item.fingerprint) for sid, item in zip(ids, items, strict=True)], now
    )
    insert_matches(
        conn, [(sid, m) for sid, item in zip(ids, items, strict=True) for m in item.matches], now
    )
    insert_alerts(
        conn,
        [
            (sid, a)
            for sid, (item, compared) in zip(ids, batch, strict=True)
            for a in (
                item.alerts(ClusterInfo(cluster_id=None, compared=compared))
                if callable(item.alerts)
                else item.alerts
            )
        ],
        now,
    )
    return ids


def _save_update(s: Session, upd: UpdateToSave, now: datetime) -> None:
    story = s.get(StoryRow, upd.story_id)
    if story is None or story.title == upd.title:
        return
    s.add(
        StoryUpdate(story_id=upd.story_id, old_title=story.title, new_title=upd.title, seen_at=now)
    )
    story.title, story.summary, story.search_text = upd.title, upd.summary, upd.search_text
    s.add(story)
    had = set(s.exec(select(MatchRow.rule).where(MatchRow.story_id == upd.story_id)).all())
    insert_matches(
        s.connection(), [(upd.story_id, m) for m in upd.matches if m.rule not in had], now
    )
    sent = set(
        s.exec(
            select(AlertRow.notifier).where(
                AlertRow.story_id == upd.story_id, AlertRow.kind == "update"
            )
        ).all()
    )
    for a in upd.alerts:
        if a.notifier not in sent:  # one update alert per story and notifier
            add_alert(s, upd.story_id, a, now)


def _save_story(
    s: Session, feed: str, item: StoryToSave, now: datetime, known: tuple[int, int] | None
) -> int:
    if known is not None:
        cluster, compared = known
        info = replace(cluster_state(s, cluster, feed), compared=compared)
    else:
        info = find_cluster(
            s, feed, item.story.canonical_url, item.story.title_key, item.fingerprint, now
        )
    story = StoryRow(**item.story.__dict__)
    story.cluster_id = info.cluster_id
    if item.fingerprint is not None:
        story.signature = pack(item.fingerprint.signature)
    s.add(story)
    s.flush()
    assert story.id is not None
    if story.cluster_id is None:
        story.cluster_id = story.id
        s.add(story)
    conn = s.connection()
    index_stories(conn, [(story.id, item.fingerprint)], now)
    insert_matches(conn, [(story.id, m) for m in item.matches], now)
    alerts = item.alerts(info) if callable(item.alerts) else item.alerts
    insert_alerts(conn, [(story.id, a) for a in alerts], now)
    return story.cluster_id


MATCH_COLUMNS = ["story_id", "rule", "terms", "hits", "snippet", "score", "matched_at"]


def match_values(story_id: int, m: RuleMatch, now: datetime) -> tuple[Any, ...]:
    """A match as stored, in MATCH_COLUMNS order."""
    terms, hits, snippet = m.stored_form()
    return (story_id, m.rule, terms, hits, snippet, m.score, now)


def insert_matches(
    conn: Connection, matches: Sequence[tuple[int, RuleMatch]], now: datetime
) -> None:
    """(story id, match) rows in one executemany: a story matches several rules (seven on
    average with a thousand rule terms), and an ORM object each cost more than the story."""
    insert_rows(
        conn,
        MatchRow.__table__,  # type: ignore[attr-defined]
        MATCH_COLUMNS,
        [match_values(sid, m, now) for sid, m in matches],
    )
