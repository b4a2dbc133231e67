"""The JSON API under /api/v1: what the web UI shows, for scripts and dashboards.

Routes that read the database are plain functions (run in threads, off the event loop). Every
error is JSON, `{"error": "..."}`, with a message that says what to change in the request.
Listings page with an opaque `cursor` (the last row's id): pass `next_cursor` back to continue.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request

from watcher.config import parse_duration
from watcher.errors import RuleError, WatcherError
from watcher.store.views import MatchView, StoryBrief

router = APIRouter(prefix="/api/v1", tags=["api"])

MAX_LIMIT = 200
MAX_BACKTEST_DAYS = 365


def iso(d: datetime | None) -> str | None:
    if d is None:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """`2h`, `7d` (that long ago) or an ISO 8601 time; HTTPException 400 otherwise."""
    if not value:
        return None
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(
            400, f"since: {value!r} is neither a duration (2h, 7d) nor an ISO 8601 time"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_cursor(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise HTTPException(400, "cursor: pass back the next_cursor of the previous page")
    return int(value)


def query_problem(field: str, exc: RuleError) -> str:
    where = f" (at character {exc.position + 1})" if exc.position is not None else ""
    return f"{field}: {exc.detail}{where}"


def match_json(m: MatchView) -> dict[str, Any]:
    return {
        "id": m.id,
        "rule": m.rule,
        "story_id": m.story_id,
        "title": m.title,
        "url": m.url,
        "feed": m.feed,
        "sources": m.sources,
        "terms": m.terms,
        "hits": m.hits,
        "snippet": m.snippet,
        "score": m.score,
        "published_at": iso(m.published_at),
        "first_seen_at": iso(m.first_seen_at),
        "matched_at": iso(m.matched_at),
    }


def story_json(s: StoryBrief) -> dict[str, Any]:
    return {
        "id": s.id,
        "feed": s.feed,
        "title": s.title,
        "url": s.url,
        "language": s.language,
        "cluster_id": s.cluster_id,
        "published_at": iso(s.published_at),
        "first_seen_at": iso(s.first_seen_at),
    }


def _web(request: Request) -> Any:
    from watcher.web.server import state_of

    return state_of(request)


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")]


@router.get("/matches", summary="Stored matches, newest first, one per story cluster and rule")
def matches(
    request: Request,
    rule: Annotated[str | None, Query(description="only this rule")] = None,
    feed: Annotated[str | None, Query(description="only stories from this feed")] = None,
    since: Annotated[str | None, Query(description="2h, 7d or an ISO 8601 time")] = None,
    text: Annotated[str | None, Query(description="words in the story (any case/script)")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    from watcher.rules import normalise_text
    from watcher.store.views import match_page

    web = _web(request)
    rows = match_page(
        web.store,
        rule=rule,
        feed=feed,
        since=parse_since(since, web.clock()),
        folded_text=normalise_text(text).strip() if text else None,
        before_id=parse_cursor(cursor),
        limit=limit,
    )
    return {
        "items": [match_json(m) for m in rows],
        "next_cursor": str(rows[-1].id) if len(rows) == limit else None,
    }


@router.get("/stories", summary="Stored stories, newest first")
def stories(
    request: Request,
    feed: Annotated[str | None, Query(description="only this feed")] = None,
    since: Annotated[str | None, Query(description="2h, 7d or an ISO 8601 time")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    from watcher.store.views import story_page

    web = _web(request)
    rows = story_page(
        web.store,
        feed=feed,
        since=parse_since(since, web.clock()),
        before_id=parse_cursor(cursor),
        limit=limit,
    )
    return {
        "items": [story_json(s) for s in rows],
        "next_cursor": str(rows[-1].id) if len(rows) == limit else None,
    }


@router.get(
    "/stories/{story_id}",
    summary="One story: text, matches, deliveries, and its cluster's timeline",
    responses={404: {"description": "No such story"}},
)
def story(request: Request, story_id: int) -> dict[str, Any]:
    from watcher.store.views import story_detail

    detail = story_detail(_web(request).store, story_id)
    if detail is None:
        raise HTTPException(404, f"story {story_id} is not stored (retention may have removed it)")
    first = detail.timeline[0].first_seen_at if detail.timeline else detail.story.first_seen_at
    return {
        **story_json(detail.story),
        "summary": detail.summary,
        "body": detail.body,
        "body_source": detail.body_source,
        "matches": [match_json(m) for m in detail.matches],
        "deliveries": [{**asdict(d), "sent_at": iso(d.sent_at)} for d in detail.deliveries],
        "timeline": [
            {**story_json(c), "delay_seconds": (c.first_seen_at - first).total_seconds()}
            for c in detail.timeline
        ],
    }


@router.get("/feeds", summary="Every configured feed's health, with new stories per day")
def feeds(request: Request, days: Annotated[int, Query(ge=1, le=90)] = 14) -> dict[str, Any]:
    from watcher.cli.feed_report import feed_report
    from watcher.store import all_feed_states

    web = _web(request)
    report = feed_report(web.config(), all_feed_states(web.store), web.clock())
    counts = web.per_day("stories", days)
    return {"items": [{**f, "new_per_day": counts.get(f["name"], {})} for f in report]}


@router.get("/rules", summary="The configured rules with match counts (total and per day)")
def rules(request: Request, days: Annotated[int, Query(ge=1, le=90)] = 14) -> dict[str, Any]:
    web = _web(request)
    config = web.config()
    totals = web.match_totals()
    daily = web.per_day("matches", days)
    items = []
    for r in config.rules:
        spec = r.spec
        items.append(
            {
                "name": r.name,
                "query": spec.query,
                "any": list(spec.any),
                "all": list(spec.all),
                "none": list(spec.none),
                "notify": list(r.notify),
                "priority": spec.priority,
                "matches": totals.get(r.name, 0),
                "matches_per_day": daily.get(r.name, {}),
            }
        )
    return {"items": items}


@router.get("/deliveries", summary="The outbox: every alert delivery, newest first")
def deliveries(
    request: Request,
    status: Annotated[str | None, Query(pattern="^(pending|held|sent|dead)$")] = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    from watcher.store.outbox import list_deliveries

    rows = list_deliveries(_web(request).store, status, limit)
    return {
        "items": [
            {
                **asdict(d),
                "next_attempt_at": iso(d.next_attempt_at),
                "sent_at": iso(d.sent_at),
            }
            for d in rows
        ]
    }


@router.post(
    "/deliveries/retry",
    summary="Queue dead or failed deliveries again (never one already sent)",
    responses={400: {"description": "Neither ids nor all_dead given"}},
)
def retry_deliveries(
    request: Request,
    ids: Annotated[list[int] | None, Body(description="delivery ids to retry")] = None,
    all_dead: Annotated[bool, Body(description="retry every dead delivery")] = False,
) -> dict[str, int]:
    from watcher.store.outbox import retry

    if not ids and not all_dead:
        raise HTTPException(400, 'send {"ids": [1, 2]} or {"all_dead": true}')
    return {"requeued": retry(_web(request).store, ids or (), all_dead)}


@router.get(
    "/search",
    summary="Full-text search of stored stories in the rule language, best first",
    responses={400: {"description": "The query does not parse; the message says where"}},
)
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, description="a query in the rule language")],
    since: Annotated[str | None, Query(description="2h, 7d or an ISO 8601 time")] = None,
    feed: Annotated[list[str] | None, Query(description="only these feeds")] = None,
    limit: Limit = 20,
) -> dict[str, Any]:
    from watcher.rules.fulltext import compile_search
    from watcher.store.search import search as run_search

    web = _web(request)
    try:
        query = compile_search(q, web.config().term_lists)
    except RuleError as exc:
        raise HTTPException(400, query_problem("q", exc)) from None
    try:
        found = run_search(
            web.store, query, since=parse_since(since, web.clock()), feeds=feed or (), limit=limit
        )
    except WatcherError as exc:
        raise HTTPException(400, f"q: {exc}") from None
    return {
        "items": [
            {
                "id": r.id,
                "feed": r.feed,
                "title": r.title,
                "url": r.url,
                "language": r.language,
                "published_at": iso(r.published_at),
                "first_seen_at": iso(r.first_seen_at),
                "score": r.score,
                "terms": list(r.terms),
                "hits": [h.as_dict() for h in r.hits],
            }
            for r in found
        ]
    }


@router.get(
    "/backtest",
    summary="Test a draft query on the last N days of stored stories: hits and near misses",
    responses={400: {"description": "The query does not parse; the message says where"}},
)
def backtest(
    request: Request,
    query: Annotated[str, Query(min_length=1, description="a draft rule query")],
    days: Annotated[float, Query(gt=0, le=MAX_BACKTEST_DAYS)] = 7,
) -> dict[str, Any]:
    web = _web(request)
    result = run_backtest(web, query, days)
    return {
        "query": result.query,
        "days": days,
        "stories": result.stories,
        "hits": result.hits,
        "near_misses": result.near_misses,
        "truncated": result.truncated,
        "hit_samples": [asdict(s) for s in result.hit_samples],
        "near_samples": [asdict(s) for s in result.near_samples],
    }


def run_backtest(web: Any, query: str, days: float) -> Any:
    from watcher.review.draft import try_draft

    if not math.isfinite(days) or days <= 0:
        raise HTTPException(400, "days: give a number of days greater than 0")
    try:
        return try_draft(web.config(), web.store, query, web.clock() - timedelta(days=days))
    except RuleError as exc:
        raise HTTPException(400, query_problem("query", exc)) from None


@router.get("/csrf", summary="A CSRF token for POSTs without a bearer token")
def csrf(request: Request) -> dict[str, str]:
    """Send it back as the X-CSRF-Token header, with the cookie this response sets."""
    return {"csrf_token": request.scope["state"]["csrf"]}
