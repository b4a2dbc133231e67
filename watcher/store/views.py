"""Read models for the web UI and API: pages of matches, one story with its cluster, counts.

Every function is one short read transaction sized by its caller's limit, so a page never scans
more than it shows plus an index walk; they run in threads, never on the event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from watcher.store.db import Store
from watcher.store.matches import sources_of
from watcher.store.tables import AlertRow, DeliveryRow, MatchRow, StoryRow


@dataclass(frozen=True)
class MatchView:
    id: int
    rule: str
    story_id: int
    title: str
    url: str | None
    feed: str
    terms: list[str]
    hits: list[dict[str, Any]]
    snippet: str
    score: float
    published_at: datetime | None
    first_seen_at: datetime
    matched_at: datetime
    sources: list[str] = field(default_factory=list)  # other feeds that carried the story


def match_page(
    store: Store,
    *,
    rule: str | None = None,
    feed: str | None = None,
    since: datetime | None = None,
    folded_text: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[MatchView]:
    """Newest first by match id (the cursor), one row per story cluster and rule: the copy that
    matched first, with the cluster's other feeds as `sources`. `folded_text` is text already
    folded as rules fold it, looked for in the story's stored folded text.

    Later copies are dropped page by page (a lookup by cluster id, indexed) rather than by a
    correlated subquery, whose cost grows with every match the rule ever had."""
    q = select(MatchRow, StoryRow).join(StoryRow, col(StoryRow.id) == col(MatchRow.story_id))
    if rule:
        q = q.where(MatchRow.rule == rule)
    if feed:
        q = q.where(StoryRow.feed == feed)
    if since:
        q = q.where(col(MatchRow.matched_at) >= since)
    if folded_text:
        pattern = "%" + folded_text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(col(StoryRow.search_text).like(pattern + "%", escape="\\"))
    kept: list[tuple[MatchRow, StoryRow]] = []
    cursor, batch = before_id, max(2 * limit, 100)
    with store.read() as s:
        while len(kept) < limit:
            page = q if cursor is None else q.where(col(MatchRow.id) < cursor)
            rows = s.exec(page.order_by(col(MatchRow.id).desc()).limit(batch)).all()
            if not rows:
                break
            cursor = rows[-1][0].id
            first = _first_matches(s, sorted({st.cluster_id for _, st in rows if st.cluster_id}))
            for m, st in rows:
                if st.cluster_id is not None and first.get((st.cluster_id, m.rule), m.id) != m.id:
                    continue  # a later copy of a story this rule already matched
                kept.append((m, st))
                if len(kept) == limit:
                    break
            if len(rows) < batch:
                break
        feeds = sources_of(s, sorted({st.cluster_id for _, st in kept if st.cluster_id}))
    return [_match_view(m, st, feeds.get(st.cluster_id or -1, [st.feed])) for m, st in kept]


def _first_matches(s: Session, clusters: list[int]) -> dict[tuple[int, str], int]:
    if not clusters:
        return {}
    rows = s.exec(
        select(StoryRow.cluster_id, MatchRow.rule, func.min(MatchRow.id))
        .join(StoryRow, col(StoryRow.id) == col(MatchRow.story_id))
        .where(col(StoryRow.cluster_id).in_(clusters))
        .group_by(col(StoryRow.cluster_id), col(MatchRow.rule))
    ).all()
    return {(cid, rule): mid for cid, rule, mid in rows if cid is not None and mid is not None}


def _match_view(m: MatchRow, st: StoryRow, feeds: list[str]) -> MatchView:
    return MatchView(
        id=m.id or 0,
        rule=m.rule,
        story_id=st.id or 0,
        title=st.title,
        url=st.url,
        feed=st.feed,
        terms=json.loads(m.terms),
        hits=json.loads(m.hits),
        snippet=m.snippet,
        score=m.score,
        published_at=st.published_at,
        first_seen_at=st.first_seen_at,
        matched_at=m.matched_at,
        sources=[f for f in feeds if f != st.feed],
    )


@dataclass(frozen=True)
class StoryBrief:
    id: int
    feed: str
    title: str
    url: str | None
    language: str | None
    cluster_id: int | None
    published_at: datetime | None
    first_seen_at: datetime


@dataclass(frozen=True)
class DeliveryBrief:
    id: int
    notifier: str
    target: int
    kind: str
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class StoryDetail:
    story: StoryBrief
    summary: str
    body: str
    body_source: str
    matches: list[MatchView]
    deliveries: list[DeliveryBrief]
    timeline: list[StoryBrief]  # every copy in the story's cluster, first seen first


def _brief(st: StoryRow) -> StoryBrief:
    return StoryBrief(
        id=st.id or 0,
        feed=st.feed,
        title=st.title,
        url=st.url,
        language=st.language,
        cluster_id=st.cluster_id,
        published_at=st.published_at,
        first_seen_at=st.first_seen_at,
    )


MAX_TIMELINE = 200


def story_detail(store: Store, story_id: int) -> StoryDetail | None:
    with store.read() as s:
        st = s.get(StoryRow, story_id)
        if st is None:
            return None
        if st.cluster_id is not None:
            copies = s.exec(
                select(StoryRow)
                .where(StoryRow.cluster_id == st.cluster_id)
                .order_by(col(StoryRow.first_seen_at), col(StoryRow.id))
                .limit(MAX_TIMELINE)
            ).all()
        else:
            copies = [st]
        matches = s.exec(
            select(MatchRow).where(MatchRow.story_id == story_id).order_by(col(MatchRow.id))
        ).all()
        deliveries = s.exec(
            select(DeliveryRow, AlertRow)
            .join(AlertRow, col(AlertRow.id) == col(DeliveryRow.alert_id))
            .where(AlertRow.story_id == story_id)
            .order_by(col(DeliveryRow.id))
        ).all()
    feeds = [c.feed for c in copies]
    return StoryDetail(
        story=_brief(st),
        summary=st.summary,
        body=st.body,
        body_source=st.body_source,
        matches=[_match_view(m, st, feeds) for m in matches],
        deliveries=[
            DeliveryBrief(
                id=d.id or 0,
                notifier=d.notifier,
                target=d.target,
                kind=a.kind,
                status=d.status,
                attempts=d.attempts,
                sent_at=d.sent_at,
                last_error=d.last_error,
            )
            for d, a in deliveries
        ],
        timeline=[_brief(c) for c in copies],
    )


def story_page(
    store: Store,
    *,
    feed: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[StoryBrief]:
    q = select(StoryRow)
    if feed:
        q = q.where(StoryRow.feed == feed)
    if since:
        q = q.where(col(StoryRow.first_seen_at) >= since)
    if before_id is not None:
        q = q.where(col(StoryRow.id) < before_id)
    with store.read() as s:
        rows = s.exec(q.order_by(col(StoryRow.id).desc()).limit(limit)).all()
    return [_brief(r) for r in rows]


def per_day(store: Store, what: str, since: datetime) -> dict[str, dict[str, int]]:
    """Counts per UTC day: `what` = "stories" (new stories by feed) or "matches" (by rule)."""
    if what == "stories":
        key, when = col(StoryRow.feed), col(StoryRow.first_seen_at)
        q = select(key, func.date(when), func.count()).where(when >= since)
    else:
        key, when = col(MatchRow.rule), col(MatchRow.matched_at)
        q = select(key, func.date(when), func.count()).where(when >= since)
    out: dict[str, dict[str, int]] = {}
    with store.read() as s:
        for name, day, n in s.exec(q.group_by(key, func.date(when))).all():
            out.setdefault(str(name), {})[str(day)[:10]] = int(n)
    return out


def match_totals(store: Store) -> dict[str, int]:
    with store.read() as s:
        rows = s.exec(select(MatchRow.rule, func.count()).group_by(MatchRow.rule)).all()
    return {rule: int(n) for rule, n in rows}


def outbox_backlog(store: Store, now: datetime) -> tuple[int, float | None]:
    """Deliveries not yet sent (pending or held), and the age of the oldest pending one."""
    with store.read() as s:
        n = s.exec(
            select(func.count()).where(col(DeliveryRow.status).in_(("pending", "held")))
        ).one()
        oldest = s.exec(
            select(func.min(AlertRow.created_at))
            .join(DeliveryRow, col(DeliveryRow.alert_id) == col(AlertRow.id))
            .where(DeliveryRow.status == "pending")
        ).one()
    if oldest is not None and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return int(n), (now - oldest).total_seconds() if oldest is not None else None


def ping(store: Store) -> None:
    with store.read() as s:
        s.execute(text("SELECT 1"))


def delivery_counts(store: Store) -> dict[str, int]:
    """Deliveries per status, for the deliveries page's filter links."""
    with store.read() as s:
        rows = s.exec(select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)).all()
    return {status: int(n) for status, n in rows}
