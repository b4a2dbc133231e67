"""Stories, matches and the alert outbox, written together in one transaction per poll.

A match and its pending deliveries commit atomically with the story: a crash either loses the
whole poll (and the next poll finds the stories new again) or keeps match and outbox together,
so an alert is never lost between "matched" and "queued".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from watcher.cluster import Fingerprint, pack
from watcher.rules import RuleMatch
from watcher.store.clusters import ClusterInfo, find_cluster, index_story
from watcher.store.db import Store
from watcher.store.feeds import FeedUpdate, apply_update
from watcher.store.outbox import OutboxAlert, add_alert
from watcher.store.tables import AlertRow, FeedState, MatchRow, StoryRow, StoryUpdate

log = logging.getLogger("watcher.store")


@dataclass(frozen=True)
class NewStory:
    feed: str
    key: str
    guid: str | None
    url: str | None
    canonical_url: str | None
    title: str
    summary: str
    body: str
    body_source: str
    language: str | None
    search_text: str
    content_hash: str
    published_at: datetime | None
    first_seen_at: datetime
    title_key: str = ""  # normalised title, for "same headline" clustering


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


def known(
    store: Store, feed: str, keys: Iterable[str], urls: Iterable[str], hashes: Iterable[str]
) -> Known:
    """Which of these identities this feed already stored: its key, canonical link or content
    hash (a GUID that churns on every fetch does not make a story new). The same story from
    another feed is new here and joins that story's cluster instead (store.clusters)."""
    keys, urls, hashes = list(keys), list(urls), list(hashes)
    conds = []
    if keys:
        conds.append(col(StoryRow.key).in_(keys))
    if urls:
        conds.append(col(StoryRow.canonical_url).in_(urls))
    if hashes:
        conds.append(col(StoryRow.content_hash).in_(hashes))
    if not conds:
        return Known(frozenset(), frozenset(), frozenset())
    with store.read() as s:
        rows = s.execute(
            sa_select(
                col(StoryRow.id),
                col(StoryRow.key),
                col(StoryRow.canonical_url),
                col(StoryRow.content_hash),
                col(StoryRow.title),
            ).where(col(StoryRow.feed) == feed, or_(*conds))
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


def save_poll(
    store: Store,
    feed: str,
    update: FeedUpdate,
    items: Sequence[StoryToSave],
    updates: Sequence[UpdateToSave] = (),
) -> None:
    """Record one poll: the feed's new state, its new stories, their matches and outbox rows,
    and the headline changes of stories it already had."""
    with store.write() as s:
        row = s.exec(select(FeedState).where(FeedState.name == feed)).one()
        apply_update(row, update)
        s.add(row)
        if items:
            # Cluster decisions read other processes' stories: take them one at a time.
            store.serialize(s, "stories")
        for item in items:
            try:
                with s.begin_nested():
                    _save_story(s, feed, item, update.polled_at)
            except IntegrityError:
                # Another process stored this story first (a lease ran out mid-poll): the
                # unique constraint keeps one copy, and the rest of the poll still commits.
                log.warning("feed=%s story %r was already stored; skipped", feed, item.story.key)
        for upd in updates:
            with s.begin_nested():
                _save_update(s, upd, update.polled_at)


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
    for m in upd.matches:
        if m.rule not in had:
            s.add(_match_row(upd.story_id, m, now))
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


def _save_story(s: Session, feed: str, item: StoryToSave, now: datetime) -> None:
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
    index_story(s, story.id, item.fingerprint, now)
    for m in item.matches:
        s.add(_match_row(story.id, m, now))
    alerts = item.alerts(info) if callable(item.alerts) else item.alerts
    for a in alerts:
        add_alert(s, story.id, a, now)


def _match_row(story_id: int, m: RuleMatch, now: datetime) -> MatchRow:
    hits = [h.as_dict() for h in m.hits]
    return MatchRow(
        story_id=story_id,
        rule=m.rule,
        terms=json.dumps(list(m.terms), ensure_ascii=False),
        hits=json.dumps(hits, ensure_ascii=False),
        snippet=m.marked_snippet(),
        score=m.score,
        matched_at=now,
    )
