"""Stories, matches and the alert outbox, written together in one transaction per poll.

A match and its pending deliveries commit atomically with the story: a crash either loses the
whole poll (and the next poll finds the stories new again) or keeps match and outbox together,
so an alert is never lost between "matched" and "queued".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from watcher.cluster import Fingerprint, pack
from watcher.rules import RuleMatch
from watcher.store.clusters import ClusterInfo, find_cluster, index_story
from watcher.store.db import Store
from watcher.store.feeds import FeedUpdate, apply_update
from watcher.store.outbox import OutboxAlert, add_alert
from watcher.store.tables import FeedState, MatchRow, StoryRow

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


def known(
    store: Store, feed: str, keys: Iterable[str], urls: Iterable[str], hashes: Iterable[str]
) -> Known:
    """Which of these identities this feed already stored: its key, canonical link or content
    hash (a GUID that churns on every fetch does not make a story new). The same story from
    another feed is new here and joins that story's cluster instead (store.clusters)."""
    keys, urls, hashes = list(keys), list(urls), list(hashes)
    with store.read() as s:
        k = (
            s.exec(
                select(StoryRow.key).where(StoryRow.feed == feed, col(StoryRow.key).in_(keys))
            ).all()
            if keys
            else []
        )
        u = (
            s.exec(
                select(StoryRow.canonical_url).where(
                    StoryRow.feed == feed, col(StoryRow.canonical_url).in_(urls)
                )
            ).all()
            if urls
            else []
        )
        h = (
            s.exec(
                select(StoryRow.content_hash).where(
                    StoryRow.feed == feed, col(StoryRow.content_hash).in_(hashes)
                )
            ).all()
            if hashes
            else []
        )
    return Known(frozenset(k), frozenset(x for x in u if x), frozenset(h))


def save_poll(store: Store, feed: str, update: FeedUpdate, items: Sequence[StoryToSave]) -> None:
    """Record one poll: the feed's new state, its new stories, their matches and outbox rows."""
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
    hits = [
        {
            "term": h.term,
            "field": h.field,
            "text": h.text,
            "snippet": h.snippet,
            "mark": [h.mark_start, h.mark_end],
        }
        for h in m.hits
    ]
    return MatchRow(
        story_id=story_id,
        rule=m.rule,
        terms=json.dumps(list(m.terms), ensure_ascii=False),
        hits=json.dumps(hits, ensure_ascii=False),
        snippet=m.marked_snippet(),
        score=m.score,
        matched_at=now,
    )
