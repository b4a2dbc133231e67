"""One poll of one feed, top to bottom: fetch, parse, what is new, store, schedule the next.

Every stage error for a feed is caught here, recorded in that feed's state, and never stops
the other feeds; an unexpected exception is a bug, logged once with its traceback and the
feed's name, and recorded the same way.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import hashlib
import logging
import random
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta

from watcher.config import FeedConfig, format_duration
from watcher.daemon.health import changes_health
from watcher.daemon.health_outbox import record_health
from watcher.daemon.policy import (
    DISABLING_STATUSES,
    RETRY_AFTER_STATUSES,
    adaptive_interval,
    backoff,
    cache_max_age,
    jitter,
    keep_connection,
    possible_gap,
    publisher_hint,
    rate_from_dates,
    retry_after,
    syndication_period,
    track_move,
    update_rate,
)
from watcher.errors import FetchError, StoreError, WatcherError
from watcher.ingest.fetch import status_error
from watcher.ingest.parse import ParsedFeed
from watcher.pipeline.context import FEED_ACCEPT, RETRY_AFTER_CAP, Context, PollReport
from watcher.pipeline.stories import build, new_entries, rematch_headlines
from watcher.store import FeedUpdate
from watcher.store.feeds import StateRow
from watcher.store.pending import PENDING, pending_ids
from watcher.store.stories import (
    ClaimLost,
    PollToSave,
    StoryToSave,
    UpdateToSave,
)

log = logging.getLogger("watcher.poll")


async def poll_feed(ctx: Context, feed: FeedConfig, claim: str | None = None) -> PollReport:
    """Poll one feed and record the outcome; never raises for feed trouble. `claim`: the
    fencing token the feed was claimed with; the outcome is stored only while it holds."""
    started = time.monotonic()
    _CLAIM.set(claim)
    try:
        report = await _poll_guarded(ctx, feed)
    except ClaimLost as exc:
        report = PollReport(feed.name, "claim lost", error=str(exc))
    except StoreError as exc:  # the database refused even the failure: it is retried once the
        # claim lapses; the cause is the database's, so no traceback
        log.error("feed %s: neither the poll nor its failure could be stored: %s", feed.name, exc)
        report = PollReport(feed.name, "error", error=str(exc))
    except Exception as exc:  # the edge of last resort: even recording the failure failed
        log.exception("feed %s: the poll's outcome could not be recorded", feed.name)
        report = PollReport(feed.name, "error", error=f"{type(exc).__name__}: {exc}")
    report = dataclasses.replace(report, seconds=time.monotonic() - started)
    log.info(
        "poll feed=%s status=%s new=%d matched=%d duration=%.2fs%s",
        report.feed,
        report.status,
        report.new,
        report.matched,
        report.seconds,
        f" error={report.error!r}" if report.error else "",
    )
    return report


async def _poll_guarded(ctx: Context, feed: FeedConfig) -> PollReport:
    """The feed's error edge: any exception in any stage becomes this feed's recorded error
    (shown by `watcher feeds`, retried with backoff); one that is not a WatcherError is a bug,
    so its traceback is logged once, here, with the feed's name."""
    state = await ctx.batches.read(feed.name)
    if state is None:
        return PollReport(feed.name, "error", error="no state row; was the config synced?")
    if state.disabled_at is not None:
        return PollReport(feed.name, "disabled", error=state.disabled_reason)
    try:
        return await _poll(ctx, feed, state)
    except ClaimLost:
        raise  # another process polled the feed meanwhile: nothing of this poll is stored
    except WatcherError as exc:
        if isinstance(exc, StoreError):
            log.warning("feed %s: the poll could not be stored: %s", feed.name, exc)
        return await _record_failure(ctx, feed, state, exc, {})
    except Exception as exc:
        log.exception("feed %s: unexpected %s in the poll", feed.name, type(exc).__name__)
        error = WatcherError(f"internal error: {type(exc).__name__}: {exc}")
        return await _record_failure(ctx, feed, state, error, {})


async def _record_failure(
    ctx: Context,
    feed: FeedConfig,
    state: StateRow,
    exc: WatcherError,
    headers: Mapping[str, str],
) -> PollReport:
    """Count the failure and back off: exponentially from the feed's interval up to
    max_interval, never before a 429/503's Retry-After; a 410 disables the feed instead."""
    now = ctx.clock()
    p = ctx.config.polling
    status = exc.status if isinstance(exc, FetchError) else None
    error = str(exc)
    delay = jitter(
        backoff(state.consecutive_errors + 1, state.interval, p.max_interval), random.random()
    )
    if state.health_alerted != "failing":
        # try once more when the failure reaches the health threshold, so a dead feed is
        # reported then and not at whatever later time the backoff happens to land on
        failing = (now - (state.first_error_at or now)).total_seconds()
        if failing < p.health_threshold:
            delay = min(delay, p.health_threshold - failing + 1.0)
    wait = None
    if status in RETRY_AFTER_STATUSES:
        wait = retry_after(_header(headers, "Retry-After"), now, RETRY_AFTER_CAP)
    if wait is not None:
        error += f"; the server asked to wait {format_duration(wait)} (Retry-After)"
        delay = max(delay, jitter(wait, random.random(), only_later=True))
    disabled = None
    if status in DISABLING_STATUSES:
        disabled = f"{error}; not polled again until feeds[].url changes in the config"
        error = disabled
        log.warning("feed %s disabled: %s", feed.name, error)
    update = FeedUpdate(
        polled_at=now,
        next_poll_at=now + timedelta(seconds=delay),
        status=status,
        error=error,
        disabled_reason=disabled,
    )
    await _save(ctx, feed, state, update)
    return PollReport(feed.name, "disabled" if disabled else "error", error=error)


async def _poll(ctx: Context, feed: FeedConfig, state: StateRow) -> PollReport:
    resp = await ctx.fetcher.get(
        state.url,
        etag=state.etag,
        last_modified=state.last_modified,
        headers=dict(feed.headers),
        accept=FEED_ACCEPT,
        keep_alive=keep_connection(state.interval, ctx.fetcher.limits.keepalive),
    )
    if resp.status >= 300 and not resp.not_modified:
        return await _record_failure(ctx, feed, state, status_error(resp), resp.headers)
    now = ctx.clock()
    move = track_move(
        state.url, state.moved_to, state.moved_seen, resp.url, resp.redirected_permanently
    )
    if move.adopt:
        log.warning("feed %s moved permanently: %s -> %s", feed.name, state.url, move.adopt)
    update = FeedUpdate(
        polled_at=now,
        next_poll_at=now,  # set below, once the interval is known
        status=resp.status,
        error=None,
        etag=_header(resp.headers, "ETag"),
        last_modified=_header(resp.headers, "Last-Modified"),
        moved_to=move.candidate,
        moved_seen=move.seen,
        url=move.adopt,
    )
    max_age = cache_max_age(resp.headers)
    if resp.not_modified:
        update = _schedule(ctx, feed, state, update, 0, None, max_age)
        health = await _save(ctx, feed, state, update)
        return PollReport(feed.name, "304", queued=health)
    body_hash = hashlib.sha256(resp.body).hexdigest()
    update = dataclasses.replace(update, body_hash=body_hash)
    if body_hash == state.body_hash:
        update = _schedule(ctx, feed, state, update, 0, None, max_age)
        health = await _save(ctx, feed, state, update)
        return PollReport(feed.name, "unchanged", queued=health)
    parsed = await ctx.pool.parse(resp.body, resp.url, now, resp.headers)
    fresh, changed = await new_entries(ctx, feed, parsed.entries)
    items = await build(ctx, feed, fresh, now)
    updates = await rematch_headlines(ctx, feed, changed, now)
    update = dataclasses.replace(
        update,
        new_stories=len(items),
        publisher_interval=publisher_hint(
            parsed.ttl_seconds,
            syndication_period(parsed.update_period, parsed.update_frequency),
        ),
        possible_gap=possible_gap(len(fresh), len(parsed.entries), state.body_hash is not None),
    )
    update = _schedule(ctx, feed, state, update, len(items), parsed, max_age)
    await _save(ctx, feed, state, update, items, updates)
    pending = [i.story.key for i in items if i.story.body_source == PENDING]
    if pending:  # stored and alerted on the feed's text: their pages follow, oldest first
        ctx.pages.add(await asyncio.to_thread(pending_ids, ctx.store, feed.name, pending))
    if update.possible_gap:
        log.warning(
            "feed %s: all %d items are new since the last poll; stories may have been missed",
            feed.name,
            len(parsed.entries),
        )
    matched = sum(1 for i in items if i.matches)
    return PollReport(feed.name, str(resp.status), new=len(items), matched=matched)


async def _save(
    ctx: Context,
    feed: FeedConfig,
    state: StateRow,
    update: FeedUpdate,
    items: Sequence[StoryToSave] = (),
    updates: Sequence[UpdateToSave] = (),
) -> bool:
    """Store the poll's outcome, in one transaction with the other polls that finished about
    the same moment (within half a second when it brought nothing to store: see
    STATE_ONLY_WINDOW), then the feed's health, only when the outcome can change it. True when
    the health was recorded (it may have queued an alert)."""
    batches = ctx.batches
    failed = await batches.write(PollToSave(feed.name, update, items, updates, _CLAIM.get()))
    if failed is not None:
        raise failed
    if not changes_health(state, update, ctx.config.polling.health_threshold):
        return False
    async with batches.writing:
        await asyncio.to_thread(record_health, ctx.store, ctx.config, feed.name, update.polled_at)
    return True


# The claim a poll runs under, set by poll_feed for its task (each poll is its own task), so
# the stages between need not pass it along.
_CLAIM: contextvars.ContextVar[str | None] = contextvars.ContextVar("watcher_claim", default=None)


def _schedule(
    ctx: Context,
    feed: FeedConfig,
    state: StateRow,
    update: FeedUpdate,
    new: int,
    parsed: ParsedFeed | None,
    max_age: float | None,
) -> FeedUpdate:
    """The feed's rhythm after a success: its new-item rate, then the interval and the
    jittered next poll time that follow from it."""
    p = ctx.config.polling
    now = update.polled_at
    if state.body_hash is None or state.last_success_at is None:
        dated = parsed.entries if parsed is not None else ()
        rate = rate_from_dates((e.published_at for e in dated), now) or state.item_rate
    else:
        elapsed = (now - state.last_success_at).total_seconds()
        rate = update_rate(state.item_rate, new, elapsed)
    hint = publisher_hint(update.publisher_interval or state.publisher_interval, max_age)
    interval = adaptive_interval(
        pinned=feed.interval,
        default=p.interval,
        lo=p.min_interval,
        hi=p.max_interval,
        rate=rate,
        hint=hint,
    )
    delay = jitter(interval, random.random())
    return dataclasses.replace(
        update, interval=interval, item_rate=rate, next_poll_at=now + timedelta(seconds=delay)
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)
