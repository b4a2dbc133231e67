"""The web UI: server-rendered pages (Jinja2, autoescaped), readable without JavaScript.

Everything that came from a feed reaches the page through autoescaping, or through
`highlight`/`marked`, which escape each piece before wrapping hits in <mark>; a link is
rendered only when it is http(s). The pages reload themselves with a meta refresh (no script
needed), and the only POSTs (login, logout, retry) carry the CSRF token the middleware checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from watcher.errors import RuleError
from watcher.web.api import iso, parse_since, query_problem

router = APIRouter(include_in_schema=False)

_env: Environment | None = None
MAX_HIGHLIGHTS = 200


def env() -> Environment:
    global _env
    if _env is None:
        from watcher.web.server import HERE

        e = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        e.filters.update(
            safe_url=safe_url, ago=ago, utc=utc, marked=marked, delay=delay, sparkline=sparkline
        )
        _env = e
    return _env


def safe_url(url: Any) -> str | None:
    return url if isinstance(url, str) and re.match(r"(?i)https?://", url) else None


def utc(d: datetime | None) -> str:
    if d is None:
        return ""
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _age(seconds: float) -> str:
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def ago(value: datetime | str | None, now: datetime) -> str:
    if value is None:
        return "never"
    d = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    secs = (now - d).total_seconds()
    return f"{_age(secs)} ago" if secs >= 0 else f"in {_age(secs)}"


def delay(seconds: float) -> str:
    return "first" if seconds <= 0 else f"+{_age(seconds)}"


def marked(hit: dict[str, Any]) -> Markup:
    """A stored hit's snippet, escaped, with the hit in <mark>."""
    s = str(hit.get("snippet", ""))
    a, b = (hit.get("mark") or [0, 0])[:2]
    a, b = max(0, min(int(a), len(s))), max(0, min(int(b), len(s)))
    return escape(s[:a]) + Markup("<mark>") + escape(s[a:b]) + Markup("</mark>") + escape(s[b:])


def highlight(text: str, needles: Iterable[str]) -> Markup:
    """`text` escaped, every occurrence of a needle (case-insensitive) wrapped in <mark>."""
    words = sorted({n for n in needles if n and n.strip()}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out, pos, count = Markup(""), 0, 0
    for m in pattern.finditer(text):
        if count >= MAX_HIGHLIGHTS:
            break
        out += (
            escape(text[pos : m.start()]) + Markup("<mark>") + escape(m.group()) + Markup("</mark>")
        )
        pos, count = m.end(), count + 1
    return out + escape(text[pos:])


def sparkline(counts: dict[str, int], days: int, now: datetime) -> Markup:
    """An inline SVG of counts per day, oldest left; only numbers go into the markup."""
    today = now.astimezone(UTC).date()
    values = [counts.get(str(today - timedelta(days=days - 1 - i)), 0) for i in range(days)]
    top = max(values) or 1
    width, height = 4 * days, 16
    points = " ".join(
        f"{i * 4 + 2},{height - 1 - (v / top) * (height - 2):.1f}" for i, v in enumerate(values)
    )
    label = f"{sum(values)} in {days} days"
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}"><title>{label}</title>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/></svg>'
    )


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    from watcher.web.server import state_of

    web = state_of(request)
    html = (
        env()
        .get_template(template)
        .render(
            request=request,
            now=web.clock(),
            csrf=request.scope.get("state", {}).get("csrf", ""),
            token_required=bool(web.config().http.token),
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(html, status)


def not_found(request: Request) -> Response:
    return page(request, "error.html", 404, title="Not found", message="There is no such page.")


def _web(request: Request) -> Any:
    from watcher.web.server import state_of

    return state_of(request)


async def form_of(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body).items()}


# -- pages ---------------------------------------------------------------------------------


@router.get("/")
def dashboard(
    request: Request,
    rule: str | None = None,
    text: str | None = None,
    before: Annotated[int | None, Query(ge=1)] = None,
    refresh: Annotated[int, Query(ge=0, le=3600)] = 60,
) -> HTMLResponse:
    from watcher.rules import normalise_text
    from watcher.store.views import match_page

    web = _web(request)
    limit = 50
    rows = match_page(
        web.store,
        rule=rule or None,
        folded_text=normalise_text(text).strip() if text else None,
        before_id=before,
        limit=limit,
    )
    older = None
    if len(rows) == limit:
        older = "?" + urlencode(
            {k: v for k, v in (("rule", rule), ("text", text)) if v} | {"before": rows[-1].id}
        )
    return page(
        request,
        "dashboard.html",
        title="Recent matches",
        matches=rows,
        rules=[r.name for r in web.config().rules],
        rule=rule or "",
        text=text or "",
        older=older,
        refresh=refresh if before is None else 0,
    )


@router.get("/story/{story_id}")
def story(request: Request, story_id: int) -> HTMLResponse:
    from watcher.store.views import story_detail

    detail = story_detail(_web(request).store, story_id)
    if detail is None:
        return page(
            request,
            "error.html",
            404,
            title="No such story",
            message=f"Story {story_id} is not stored (retention may have removed it).",
        )
    needles = {str(h.get("text", "")) for m in detail.matches for h in m.hits}
    first = detail.timeline[0].first_seen_at if detail.timeline else detail.story.first_seen_at
    paragraphs = [p for p in re.split(r"\n\s*\n|\n", detail.body or detail.summary) if p.strip()]
    return page(
        request,
        "story.html",
        title=detail.story.title,
        d=detail,
        title_html=highlight(detail.story.title, needles),
        paragraphs=[highlight(p, needles) for p in paragraphs[:500]],
        timeline=[(c, (c.first_seen_at - first).total_seconds()) for c in detail.timeline],
    )


@router.get("/feeds")
def feeds(request: Request) -> HTMLResponse:
    from watcher.cli.feed_report import feed_report
    from watcher.store import all_feed_states

    web = _web(request)
    report = feed_report(web.config(), all_feed_states(web.store), web.clock())
    counts = web.per_day("stories", 14)
    return page(request, "feeds.html", title="Feeds", feeds=report, counts=counts, days=14)


@router.get("/rules")
def rules(
    request: Request,
    query: str | None = None,
    days: Annotated[float, Query(gt=0, le=365)] = 7,
) -> HTMLResponse:
    from watcher.web.api import run_backtest

    web = _web(request)
    config = web.config()
    result, error = None, None
    if query:
        try:
            result = run_backtest(web, query, days)
        except HTTPException as exc:
            error = str(exc.detail)
    return page(
        request,
        "rules.html",
        400 if error else 200,
        title="Rules",
        rules=config.rules,
        totals=web.match_totals(),
        counts=web.per_day("matches", 14),
        spark_days=14,
        query=query or "",
        days=days,
        result=result,
        error=error,
    )


@router.get("/search")
def search(request: Request, q: str = "", since: str = "") -> HTMLResponse:
    from watcher.rules.fulltext import compile_search
    from watcher.store.search import search as run_search

    web = _web(request)
    results, error = [], None
    if q.strip():
        try:
            query = compile_search(q, web.config().term_lists)
            results = run_search(web.store, query, since=parse_since(since, web.clock()), limit=50)
        except RuleError as exc:
            error = query_problem("query", exc)
        except HTTPException as exc:
            error = str(exc.detail)
    return page(
        request,
        "search.html",
        400 if error else 200,
        title="Search",
        q=q,
        since=since,
        results=results,
        error=error,
    )


@router.get("/deliveries")
def deliveries(request: Request, status: str = "") -> HTMLResponse:
    from watcher.store.outbox import list_deliveries
    from watcher.store.views import delivery_counts

    web = _web(request)
    status = status if status in ("pending", "held", "sent", "dead") else ""
    rows = list_deliveries(web.store, status or None, 200)
    return page(
        request,
        "deliveries.html",
        title="Deliveries",
        rows=rows,
        shown=status,
        counts=delivery_counts(web.store),
    )


@router.post("/deliveries/retry")
async def retry(request: Request) -> Response:
    import asyncio

    from watcher.store.outbox import retry as requeue

    form = await form_of(request)
    ids = [int(i) for i in re.findall(r"\d+", form.get("ids", ""))]
    all_dead = form.get("all_dead") == "1"
    if not ids and not all_dead:
        return page(
            request,
            "error.html",
            400,
            title="Nothing to retry",
            message="Choose a delivery to retry, or retry all dead ones.",
        )
    n = await asyncio.to_thread(requeue, _web(request).store, ids, all_dead)
    return RedirectResponse(f"/deliveries?{urlencode({'requeued': n})}", 303)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, "login.html", title="Sign in", next=_local(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    from watcher.web.auth import SESSION_COOKIE, SESSION_SECONDS, Guard

    form = await form_of(request)
    web = _web(request)
    guard = Guard(web.config().http.token)
    target = _local(form.get("next", "/"))
    if not guard.required:
        return RedirectResponse(target, 303)
    if not guard.token_ok(form.get("token", "")):
        return page(
            request,
            "login.html",
            401,
            title="Sign in",
            next=target,
            error="That is not this server's token (http.token in its config).",
        )
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE,
        guard.new_session(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    from watcher.web.auth import SESSION_COOKIE

    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only a path on this server: a login must not redirect elsewhere."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def terms_of(rows: Sequence[Any]) -> list[str]:
    return sorted({t for r in rows for t in r.terms})


__all__ = ["iso", "router"]
