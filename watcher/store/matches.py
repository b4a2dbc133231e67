"""Reading stored matches back, for `watcher matches` and the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from watcher.store.db import Store
from watcher.store.tables import MatchRow, StoryRow

MAX_SOURCES = 100  # feeds named per cluster


@dataclass(frozen=True)
class StoredMatch:
    rule: str
    url: str | None
    title: str
    feed: str
    terms: list[str]
    hits: list[dict[str, Any]]
    snippet: str
    score: float
    published_at: datetime | None
    matched_at: datetime
    sources: list[str] = field(default_factory=list)  # other feeds that carried the story


def list_matches(
    store: Store, rule: str | None = None, since: datetime | None = None, limit: int | None = None
) -> list[StoredMatch]:
    """Newest first, one row per story cluster and rule: the first copy that matched, with the
    other feeds that carried the story as `sources`."""
    first = (
        select(func.min(MatchRow.id))
        .join(StoryRow, col(StoryRow.id) == col(MatchRow.story_id))
        .group_by(func.coalesce(StoryRow.cluster_id, StoryRow.id), MatchRow.rule)
    )
    q = (
        select(MatchRow, StoryRow)
        .join(StoryRow, col(StoryRow.id) == col(MatchRow.story_id))
        .where(col(MatchRow.id).in_(first))
    )
    if rule:
        q = q.where(MatchRow.rule == rule)
    if since:
        q = q.where(col(MatchRow.matched_at) >= since)
    q = q.order_by(col(MatchRow.matched_at).desc(), col(MatchRow.id).desc())
    if limit:
        q = q.limit(limit)
    with store.read() as s:
        rows = s.exec(q).all()
        clusters = sources_of(s, [st.cluster_id for _, st in rows if st.cluster_id is not None])
    out = []
    for m, st in rows:
        feeds = clusters.get(st.cluster_id or -1, [st.feed])
        out.append(
            StoredMatch(
                rule=m.rule,
                url=st.url,
                title=st.title,
                feed=st.feed,
                terms=json.loads(m.terms),
                hits=json.loads(m.hits),
                snippet=m.snippet,
                score=m.score,
                published_at=st.published_at,
                matched_at=m.matched_at,
                sources=[f for f in feeds if f != st.feed],
            )
        )
    return out


@dataclass(frozen=True)
class StoredStory:
    id: int
    feed: str
    title: str
    summary: str
    body: str
    language: str | None
    url: str | None


def iter_stories(
    store: Store, since: datetime | None, batch: int = 500
) -> Iterator[list[StoredStory]]:
    """Stored stories in id order, a batch at a time, so a backtest never holds them all."""
    last = 0
    while True:
        q = select(StoryRow).where(col(StoryRow.id) > last)
        if since:
            q = q.where(col(StoryRow.first_seen_at) >= since)
        with store.read() as s:
            rows = s.exec(q.order_by(col(StoryRow.id)).limit(batch)).all()
        if not rows:
            return
        yield [
            StoredStory(
                id=r.id or 0,
                feed=r.feed,
                title=r.title,
                summary=r.summary,
                body=r.body,
                language=r.language,
                url=r.url,
            )
            for r in rows
        ]
        last = rows[-1].id or last


def matched_pairs(store: Store, since: datetime | None) -> set[tuple[int, str]]:
    """(story id, rule) for every match recorded at the time, for stories seen since `since`."""
    q = select(MatchRow.story_id, MatchRow.rule).join(
        StoryRow, col(StoryRow.id) == col(MatchRow.story_id)
    )
    if since:
        q = q.where(col(StoryRow.first_seen_at) >= since)
    with store.read() as s:
        return {(sid, rule) for sid, rule in s.exec(q).all()}


def sources_of(s: Session, cluster_ids: list[int]) -> dict[int, list[str]]:
    """Feeds of each cluster, first seen first (for `watcher matches` and delivery)."""
    out: dict[int, list[str]] = {}
    if not cluster_ids:
        return out
    rows = s.exec(
        select(StoryRow.cluster_id, StoryRow.feed, func.min(StoryRow.id).label("first"))
        .where(col(StoryRow.cluster_id).in_(cluster_ids))
        .group_by(col(StoryRow.cluster_id), col(StoryRow.feed))
        .order_by(text("first"))
    ).all()
    for cid, feed, _ in rows:
        if cid is not None and len(out.setdefault(cid, [])) < MAX_SOURCES:
            out[cid].append(feed)
    return out


def stored_feed_names(store: Store) -> list[str]:
    """Feeds with stored stories, including feeds since removed from the config."""
    with store.read() as s:
        return [str(r) for r in s.exec(select(StoryRow.feed).distinct()).all()]


def stored_rule_names(store: Store) -> list[str]:
    """Rules with stored matches, including rules since removed from the config."""
    with store.read() as s:
        return [str(r) for r in s.exec(select(MatchRow.rule).distinct()).all()]


def stories_since(store: Store, feed: str, since: datetime) -> list[tuple[str, list[str]]]:
    """Stories of one feed first seen since `since`, oldest first, each with the rules it
    matched (for `watcher poll`)."""
    with store.read() as s:
        rows = s.exec(
            select(StoryRow.id, StoryRow.title)
            .where(StoryRow.feed == feed, col(StoryRow.first_seen_at) >= since)
            .order_by(col(StoryRow.id))
        ).all()
        ids = [sid for sid, _ in rows]
        hits = s.exec(
            select(MatchRow.story_id, MatchRow.rule).where(col(MatchRow.story_id).in_(ids))
        ).all()
    rules: dict[int, list[str]] = {}
    for sid, rule in hits:
        rules.setdefault(sid, []).append(rule)
    return [(title, sorted(rules.get(sid or 0, []))) for sid, title in rows]
