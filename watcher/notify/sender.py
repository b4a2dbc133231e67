"""Delivery of the outbox through apprise: one call per target URL, in that target's format.

Deliveries to different targets go out concurrently; to one target, in order, so its rate limit
holds. Quiet hours and rate limits postpone a delivery without counting an attempt; failures
retry with exponential backoff and jitter until the notifier's `max_attempts`, then `dead`.
Story alerts and feed-health alerts take the same path.
"""

from __future__ import annotations

import asyncio
import html
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import groupby

import apprise
from apprise import NotifyFormat

from watcher import metrics
from watcher.clock import Clock
from watcher.config import Config, NotifierConfig
from watcher.logs import mask
from watcher.notify.policy import (
    digest_due,
    format_for,
    quiet_until,
    rate_limit_for,
    rate_wait,
    retry_at,
)
from watcher.notify.templates import fit, markdown_escape, render, render_digest
from watcher.store import Claimed, Store
from watcher.store.claims import PROCESS, confirm_delivery
from watcher.store.outbox import (
    HEALTH,
    claim_due,
    digest_last_sent,
    held,
    mark_failed,
    mark_sent,
    postpone,
    sent_since,
    set_digest_sent,
)

log = logging.getLogger("watcher.notify")

SEND_TIMEOUT = 30.0
MARK_RETRIES = (0.5,) * 10 + (2.0,) * 30  # about a minute and a half
APPRISE_FORMATS = {
    "text": NotifyFormat.TEXT,
    "html": NotifyFormat.HTML,
    "telegram": NotifyFormat.HTML,
    "markdown": NotifyFormat.MARKDOWN,
}
OWNER = PROCESS
# Deliveries this process has claimed and not yet settled: the heartbeat renews their leases.
IN_FLIGHT: set[int] = set()


async def send_one(url: str, title: str, body: str, fmt: str = "text") -> tuple[bool, str]:
    """One apprise call to one target. Returns (ok, reason) with apprise's own words on failure."""
    ap = apprise.Apprise()
    if not ap.add(url):
        return False, "apprise rejected the URL"
    plugin = next(iter(ap))
    title = title_for(title, fmt, merged=not getattr(plugin, "title_maxlen", 250))
    title, body = fit(
        title,
        body,
        int(getattr(plugin, "title_maxlen", 250) or 0),
        int(getattr(plugin, "body_maxlen", 32768) or 0),
    )
    try:
        result = await ap.async_notify(
            body=body, title=title, body_format=APPRISE_FORMATS[fmt], timeout=SEND_TIMEOUT
        )
    except Exception as exc:  # a plugin bug must not take the sender down
        return False, f"{type(exc).__name__}: {exc}"
    if result:
        return True, ""
    reasons = [e.message for e in result.logs() if e.level in ("ERROR", "WARNING")]
    return False, "; ".join(reasons[-3:]) or f"apprise reported {result.status.name}"


def title_for(title: str, fmt: str, merged: bool) -> str:
    """The title as the target reads it. Markdown targets read markup in titles too; a service
    with no title of its own (Telegram) gets it joined to the body by apprise, unescaped, so it
    is escaped for the body's format here. An email Subject stays plain text, on one line."""
    title = " ".join(title.split())  # no CR/LF reaches a header
    if fmt == "markdown":
        return markdown_escape(title)
    if merged and fmt in ("html", "telegram"):
        return html.escape(title, quote=False)
    return title


def message_for(claim: Claimed, notifier: NotifierConfig, url: str) -> tuple[str, str, str]:
    """Title, body and format of one delivery; a broken user template falls back to ours.
    A feed-health alert was worded when it was queued: plain text, no template."""
    if claim.kind == HEALTH:
        return str(claim.context["title"]), str(claim.context["body"]), "text"
    fmt = format_for(url, notifier.format)
    tpl = claim.rule_template or (
        {"title": notifier.template.title, "body": notifier.template.body}
        if notifier.template
        else None
    )
    try:
        title, body = render(claim.context, fmt, (tpl or {}).get("title"), (tpl or {}).get("body"))
    except Exception as exc:  # a user template is code we did not write: any error falls back
        log.warning("template for %s failed (%r); using the default", notifier.name, exc)
        title, body = render(claim.context, fmt)
    return title, body, fmt


async def deliver_due(
    store: Store,
    config: Config,
    clock: Clock,
    limit: int = 100,
    rnd: Callable[[], float] = random.random,
) -> tuple[int, int]:
    """Claim and send due deliveries; returns (sent, failed). Runs beside polls, not in them."""
    lease = config.polling.lease
    claims = await asyncio.to_thread(claim_due, store, OWNER, clock(), limit, lease)
    if not claims:
        return 0, 0
    IN_FLIGHT.update(c.id for c in claims)
    groups = [
        list(g)
        for _, g in groupby(
            sorted(claims, key=lambda c: (c.notifier, c.target, c.id)),
            key=lambda c: (c.notifier, c.target),
        )
    ]
    try:
        results = await asyncio.gather(
            *(_deliver_target(store, config, clock, g, rnd) for g in groups)
        )
    finally:
        IN_FLIGHT.difference_update(c.id for c in claims)
    sent, failed = sum(r[0] for r in results), sum(r[1] for r in results)
    if sent or failed:
        log.info("deliveries: %d sent, %d failed", sent, failed)
    return sent, failed


async def _deliver_target(
    store: Store, config: Config, clock: Clock, claims: Sequence[Claimed], rnd: Callable[[], float]
) -> tuple[int, int]:
    sent = failed = 0
    for c in claims:
        notifier = config.notifier(c.notifier)
        if notifier is None or c.target >= len(notifier.urls):
            why = f"notifier {c.notifier!r} (target {c.target}) is no longer in the config"
            await asyncio.to_thread(mark_failed, store, c.id, why, None)
            failed += 1
            continue
        url = notifier.urls[c.target]
        now = clock()
        wait = None if c.priority == "high" else quiet_until(now, notifier.quiet_hours)
        why = "quiet hours"
        limit = rate_limit_for(url, notifier.rate_limit)
        if wait is None and limit is not None:
            recent = await asyncio.to_thread(
                sent_since, store, c.notifier, c.target, now - timedelta(seconds=limit[1])
            )
            wait, why = rate_wait(now, recent, limit), f"rate limit {limit[0]}/{limit[1]:g}s"
        if wait is not None:
            await asyncio.to_thread(
                postpone, store, c.id, wait, f"held until {wait:%H:%M} UTC: {why}"
            )
            continue
        title, body, fmt = message_for(c, notifier, url)
        if not await asyncio.to_thread(
            confirm_delivery, store, c.id, clock(), config.polling.lease
        ):
            log.warning("delivery %d: claimed by another process meanwhile; not sent", c.id)
            continue
        ok, error = await send_one(url, title, body, fmt)
        metrics.record_delivery(c.notifier, ok, c.context, clock())
        if ok:
            await _mark_sent(store, c.id, clock)
            sent += 1
            continue
        error = mask(error, config.secrets)
        again = retry_at(clock(), c.attempts + 1, notifier.max_attempts, rnd())
        await asyncio.to_thread(mark_failed, store, c.id, error, again)
        failed += 1
        log.warning(
            "delivery %d to %s[%d] failed (%s): %s",
            c.id,
            c.notifier,
            c.target,
            f"retry at {again:%H:%M:%S} UTC" if again else "gave up: dead",
            error,
        )
    return sent, failed


async def _mark_sent(store: Store, delivery_id: int, clock: Clock) -> None:
    """The message is out: record it, waiting out a short database outage (every other
    process's confirm fails once this lands, so the alert is not sent twice). The first failure
    is a warning and the outcome is said once: a restart of the database is one line, not one
    every half second."""
    for tries, wait in enumerate(MARK_RETRIES):
        try:
            await asyncio.to_thread(mark_sent, store, [delivery_id], clock())
        except Exception as exc:
            level = logging.WARNING if tries == 0 else logging.DEBUG
            log.log(level, "delivery %d sent but not yet marked (%s); retrying", delivery_id, exc)
            await asyncio.sleep(wait)
            continue
        if tries:
            log.info("delivery %d marked sent after %d retries", delivery_id, tries)
        return
    await asyncio.to_thread(mark_sent, store, [delivery_id], clock())


async def send_digests(store: Store, config: Config, clock: Clock) -> int:
    """Send each digest notifier's held alerts as one message per target when its time comes."""
    sent_total = 0
    for notifier in config.notifiers:
        if notifier.digest is None:
            continue
        waiting = await asyncio.to_thread(held, store, notifier.name)
        if not waiting:
            continue
        now = clock()
        last = await asyncio.to_thread(digest_last_sent, store, notifier.name)
        first = min((t for c in waiting if (t := _matched_at(c)) is not None), default=None)
        if not digest_due(notifier.digest, last, now, first) or quiet_until(
            now, notifier.quiet_hours
        ):
            continue
        any_sent = False
        for target, group in groupby(
            sorted(waiting, key=lambda c: (c.target, c.id)), key=lambda c: c.target
        ):
            items = list(group)
            if target >= len(notifier.urls):
                continue
            url = notifier.urls[target]
            fmt = format_for(url, notifier.format)
            title, body = render_digest([c.context for c in items], fmt)
            ok, error = await send_one(url, title, body, fmt)
            for c in items:
                metrics.record_delivery(notifier.name, ok, c.context, clock())
            if ok:
                await asyncio.to_thread(mark_sent, store, [c.id for c in items], clock())
                sent_total += len(items)
                any_sent = True
            else:
                log.warning(
                    "digest to %s[%d] failed, kept for the next one: %s",
                    notifier.name,
                    target,
                    mask(error, config.secrets),
                )
        if any_sent:
            await asyncio.to_thread(set_digest_sent, store, notifier.name, now)
            log.info("digest %s: %d alert(s) sent", notifier.name, sent_total)
    return sent_total


def _matched_at(c: Claimed) -> datetime | None:
    value = c.context.get("matched_at")
    return datetime.fromisoformat(value) if value else None
