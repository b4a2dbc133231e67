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
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, TypeVar

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
from watcher.store.claims import PROCESS, renew_deliveries
from watcher.store.coalesce import DELIVERY, WriteTurns
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
# A confirm holds for this share of the lease: sends after it, to the same target, go out
# without another round trip (the heartbeat renews the leases meanwhile)
CONFIRMED_FOR = 0.25
T = TypeVar("T")
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
    turns: WriteTurns | None = None,
) -> tuple[int, int]:
    """Claim and send due deliveries; returns (sent, failed). Runs beside polls, not in them.
    `turns`: the process's write turns (the daemon's), so these writes go before the polls'
    and pages' that are waiting for theirs."""
    lease = config.polling.lease
    claimed_at = time.monotonic()  # a claim is a confirm: the leases run from (after) here
    claims = await _write(turns, claim_due, store, OWNER, clock(), limit, lease)
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
    marks = _Marks(store, clock, turns)
    try:
        results = await asyncio.gather(
            *(
                _deliver_target(store, config, clock, g, rnd, marks, turns, claimed_at)
                for g in groups
            )
        )
        await marks.settled()
    finally:
        # the heartbeat renews their leases until here, marks included
        IN_FLIGHT.difference_update(c.id for c in claims)
    sent, failed = sum(r[0] for r in results), sum(r[1] for r in results)
    if sent or failed:
        log.info("deliveries: %d sent, %d failed", sent, failed)
    return sent, failed


async def _deliver_target(
    store: Store,
    config: Config,
    clock: Clock,
    claims: Sequence[Claimed],
    rnd: Callable[[], float],
    marks: _Marks,
    turns: WriteTurns | None,
    claimed_at: float,
) -> tuple[int, int]:
    sent = failed = 0
    lease = config.polling.lease
    confirmed, confirmed_at = {c.id for c in claims}, claimed_at
    for n, c in enumerate(claims):
        notifier = config.notifier(c.notifier)
        if notifier is None or c.target >= len(notifier.urls):
            why = f"notifier {c.notifier!r} (target {c.target}) is no longer in the config"
            await _write(turns, mark_failed, store, c.id, why, None)
            failed += 1
            continue
        url = notifier.urls[c.target]
        now = clock()
        wait = None if c.priority == "high" else quiet_until(now, notifier.quiet_hours)
        why = "quiet hours"
        limit = rate_limit_for(url, notifier.rate_limit)
        if wait is None and limit is not None:
            await marks.settled()  # what this pass sent counts
            recent = await asyncio.to_thread(
                sent_since, store, c.notifier, c.target, now - timedelta(seconds=limit[1])
            )
            wait, why = rate_wait(now, recent, limit), f"rate limit {limit[0]}/{limit[1]:g}s"
        if wait is not None:
            await _write(turns, postpone, store, c.id, wait, f"held until {wait:%H:%M} UTC: {why}")
            continue
        title, body, fmt = message_for(c, notifier, url)
        if time.monotonic() - confirmed_at > lease * CONFIRMED_FOR:
            # still ours? This one and those after it, in one write: a process resumed after
            # a pause finds the claims it lost meanwhile taken, and sends none of them
            rest = [x.id for x in claims[n:]]
            confirmed = await _write(turns, renew_deliveries, store, rest, clock(), lease)
            confirmed_at = time.monotonic()
        if c.id not in confirmed:
            log.warning("delivery %d: claimed by another process meanwhile; not sent", c.id)
            continue
        # the previous send's mark first: killed now, the process re-sends at most one
        # message per target (the README's only duplicate), however many this pass has sent
        await marks.settled()
        ok, error = await send_one(url, title, body, fmt)
        metrics.record_delivery(c.notifier, ok, c.context, clock())
        if ok:
            marks.add(c.id)
            sent += 1
            continue
        error = mask(error, config.secrets)
        again = retry_at(clock(), c.attempts + 1, notifier.max_attempts, rnd())
        await _write(turns, mark_failed, store, c.id, error, again)
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


async def _write(turns: WriteTurns | None, fn: Callable[..., T], *args: Any) -> T:
    """A write of the sender's, in a thread, at the front of the process's write turns."""
    if turns is None:
        return await asyncio.to_thread(fn, *args)
    async with turns.turn(DELIVERY):
        return await asyncio.to_thread(fn, *args)


class _Marks:
    """Sent deliveries are marked in the background, and those sent (to other targets) while
    one is running share the next write; a target's next send waits for its previous mark. A
    process that dies before a mark lands sends that alert again once its lease lapses (at
    least once, as when it dies between a send and its mark): one message per target at most."""

    def __init__(self, store: Store, clock: Clock, turns: WriteTurns | None) -> None:
        self._store = store
        self._clock = clock
        self._turns = turns
        self._ids: list[int] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, delivery_id: int) -> None:
        self._ids.append(delivery_id)
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._ids:
                ids, self._ids = self._ids, []
                await _mark_sent(self._store, ids, self._clock, self._turns)
        finally:
            self._task = None

    async def settled(self) -> None:
        """Until every delivery added is marked (or its marking failed: raised here)."""
        while self._task is not None:
            await self._task


async def _mark_sent(
    store: Store, delivery_ids: list[int], clock: Clock, turns: WriteTurns | None
) -> None:
    """The messages are out: record it, waiting out a short database outage (every other
    process's confirm fails once this lands, so an alert is not sent twice). The first failure
    is a warning and the outcome is said once: a restart of the database is one line, not one
    every half second."""
    for tries, wait in enumerate(MARK_RETRIES):
        try:
            await _write(turns, mark_sent, store, delivery_ids, clock())
        except Exception as exc:
            level = logging.WARNING if tries == 0 else logging.DEBUG
            log.log(
                level, "deliveries %s sent but not yet marked (%s); retrying", delivery_ids, exc
            )
            await asyncio.sleep(wait)
            continue
        if tries:
            log.info("deliveries %s marked sent after %d retries", delivery_ids, tries)
        return
    await _write(turns, mark_sent, store, delivery_ids, clock())


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
