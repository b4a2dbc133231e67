"""Alerts: the message for one story and one notifier, and delivery of the outbox through apprise.

Each delivery row is one target URL, sent by its own apprise call, so a target that succeeded is
marked sent and never sent again even if a sibling target of the same notifier failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import apprise

from watcher.config import Config
from watcher.logs import mask
from watcher.rules import RuleMatch
from watcher.store import Store, due_deliveries, mark_failed, mark_sent

log = logging.getLogger("watcher.notify")

SEND_TIMEOUT = 30.0
TITLE_LIMIT = 250
SNIPPET_TERMS = 6


@dataclass(frozen=True)
class AlertStory:
    title: str
    url: str | None
    feed: str
    published_at: datetime | None


def render_alert(story: AlertStory, matches: Sequence[RuleMatch]) -> tuple[str, str]:
    """Title and plain-text body naming every matching rule, the terms that fired and a snippet."""
    rules = ", ".join(m.rule for m in matches)
    title = _clip(f"[{rules}] {story.title}", TITLE_LIMIT)
    when = story.published_at.strftime("%Y-%m-%d %H:%M UTC") if story.published_at else "undated"
    lines = [story.title, "", f"Rules: {rules}", f"Source: {story.feed} · Published: {when}"]
    for m in matches:
        terms = ", ".join(f"{h.term} ({h.field})" for h in m.hits[:SNIPPET_TERMS])
        lines.append(f"{m.rule}: {terms}")
        snippet = m.marked_snippet()
        if snippet:
            lines.append(f"  {snippet}")
    if story.url:
        lines += ["", story.url]
    return title, "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


Clock = Callable[[], datetime]


async def deliver_due(
    store: Store, config: Config, clock: Clock, limit: int = 200
) -> tuple[int, int]:
    """Send every due delivery once; returns (sent, failed). Runs beside polls, not in them."""
    due = await asyncio.to_thread(due_deliveries, store, clock(), limit)
    sent = failed = 0
    for d in due:
        notifier = config.notifier(d.notifier)
        if notifier is None or d.target >= len(notifier.urls):
            error = f"notifier {d.notifier!r} (target {d.target}) is no longer in the config"
            ok = False
        else:
            ok, error = await send_one(notifier.urls[d.target], d.title, d.body)
        now = clock()
        if ok:
            await asyncio.to_thread(mark_sent, store, d.id, now)
            sent += 1
        else:
            error = mask(error, config.secrets)
            status = await asyncio.to_thread(mark_failed, store, d.id, now, error)
            failed += 1
            log.warning(
                "delivery %d to %s[%d] failed (%s): %s",
                d.id,
                d.notifier,
                d.target,
                "gave up" if status == "dead" else "will retry",
                error,
            )
    if sent or failed:
        log.info("deliveries: %d sent, %d failed", sent, failed)
    return sent, failed


async def send_one(url: str, title: str, body: str) -> tuple[bool, str]:
    """One apprise call to one target. Returns (ok, reason) with apprise's own words on failure."""
    ap = apprise.Apprise()
    if not ap.add(url):
        return False, "apprise rejected the URL"
    try:
        result = await ap.async_notify(body=body, title=title, timeout=SEND_TIMEOUT)
    except Exception as exc:  # a plugin bug must not take the sender down
        return False, f"{type(exc).__name__}: {exc}"
    if result:
        return True, ""
    reasons = [e.message for e in result.logs() if e.level in ("ERROR", "WARNING")]
    return False, "; ".join(reasons[-3:]) or f"apprise reported {result.status.name}"
