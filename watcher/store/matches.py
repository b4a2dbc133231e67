"""Reading stored matches back, for `watcher matches` and the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from watcher.store.db import Store
from watcher.store.tables import MatchRow, StoryRow


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


def list_matches(
    store: Store, rule: str | None = None, since: datetime | None = None, limit: int | None = None
) -> list[StoredMatch]:
    """Newest first."""
    q = select(MatchRow, StoryRow).join(StoryRow, col(StoryRow.id) == col(MatchRow.story_id))
    if rule:
        q = q.where(MatchRow.rule == rule)
    if since:
        q = q.where(col(MatchRow.matched_at) >= since)
    q = q.order_by(col(MatchRow.matched_at).desc(), col(MatchRow.id).desc())
    if limit:
        q = q.limit(limit)
    with store.read() as s:
        rows = s.exec(q).all()
    return [
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
        )
        for m, st in rows
    ]
