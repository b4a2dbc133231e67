"""The orchestrator: one poll of one feed, top to bottom, and delivery of what it queued.

    fetch feed -> parse -> dedup -> fetch + extract new articles -> match -> store (+ outbox)

Stages take data and return data; only this module sequences I/O. Every stage error for a feed
is caught here, recorded in that feed's state, and never stops the other feeds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from watcher.clock import Clock
from watcher.config import Config, FeedConfig, format_duration
from watcher.daemon.health import changes_health
from watcher.daemon.health_outbox import record_health
from watcher.daemon.policy import (
    DISABLING_STATUSES,
    RETRY_AFTER_STATUSES,
    adaptive_interval,
    backoff,
    cache_max_age,
    jitter,
    possible_gap,
    publisher_hint,
    rate_from_dates,
    retry_after,
    syndication_period,
    track_move,
    update_rate,
)
from watcher.errors import FetchError, StoreError, WatcherError
from watcher.ingest.dedup import (
    canonical_url,
    content_hash,
    headline_changed,
    identity_key,
    strip_tracking,
)
from watcher.ingest.fetch import Fetcher, FetchLimits, status_error
from watcher.ingest.parse import Entry, ParsedFeed
from watcher.ingest.prepare import FeedRef, Prepared, Skipped
from watcher.ingest.workers import WorkerPool
from watcher.model import AlertStory
from watcher.notify.alerts import build_alerts, cluster_alerts
from watcher.rules import Document, RuleSet, normalise_text
from watcher.store import FeedUpdate, Store
from watcher.store.coalesce import Coalescer
from watcher.store.feeds import feed_states
from watcher.store.stories import (
    Known,
    KnownAsk,
    PollToSave,
    StoryToSave,
    UpdateToSave,
    known_many,
    save_polls,
    story_bodies,
)
from watcher.store.tables import FeedState

log = logging.getLogger("watcher.poll")

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
RETRY_AFTER_CAP = 6 * 3600.0  # a server cannot silence a feed for longer than this at once
PAGE_FETCHES_PER_FEED = 4
STATE_WRITE_WINDOW = 0.01  # seconds; poll outcomes arriving within it share one transaction
POLLS_PER_TRANSACTION = 100  # bounds how long one write transaction holds the database


@dataclass(frozen=True)
class PollReport:
    feed: str
    status: str  # HTTP status, "unchanged", or "error"
    new: int = 0
    matched: int = 0
    error: str | None = None
    seconds: float = 0.0


class StoreBatches:
    """The store calls of every poll in flight, coalesced: state reads, "seen before?" asks and
    poll writes made at about the same moment run as one transaction (see store.coalesce).
    One per Context and so per event loop (futures belong to the loop that awaits them); a
    reloaded Context keeps its predecessor's, since the store is the same."""

    def __init__(self, store: Store) -> None:
        self.writing = asyncio.Lock()  # one poll write transaction at a time from this process
        self.read: Coalescer[str, FeedState | None] = Coalescer(partial(feed_states, store))
        self.known: Coalescer[KnownAsk, Known] = Coalescer(partial(known_many, store))
        self.write: Coalescer[PollToSave, StoreError | None] = Coalescer(
            partial(save_polls, store), STATE_WRITE_WINDOW, self.writing, POLLS_PER_TRANSACTION
        )


@dataclass(frozen=True)
class Context:
    """What a poll needs, built once per daemon (or `run --once`) inside its event loop."""

    config: Config
    store: Store
    fetcher: Fetcher
    rules: RuleSet
    clock: Clock
    pool: WorkerPool  # where parsing, extraction and matching run (worker processes)
    batches: StoreBatches = field(default=None)  # type: ignore[assignment]  # set just below

    def __post_init__(self) -> None:
        if self.batches is None:
            object.__setattr__(self, "batches", StoreBatches(self.store))


def fetch_limits(config: Config) -> FetchLimits:
    p = config.polling
    return FetchLimits(
        timeout=p.timeout,
        max_bytes=p.max_bytes,
        concurrency=p.concurrency,
        per_host=p.per_host,
        allow_private_addresses=p.allow_private_addresses,
        host_gap=p.host_gap,
        **({"user_agent": p.user_agent} if p.user_agent else {}),
    )


async def poll_feed(ctx: Context, feed: FeedConfig) -> PollReport:
    """Poll one feed and record the outcome; never raises for feed trouble."""
    started = time.monotonic()
    try:
        report = await _poll_guarded(ctx, feed)
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
    except WatcherError as exc:
        return await _record_failure(ctx, feed, state, exc, {})
    except Exception as exc:
        log.exception("feed %s: unexpected %s in the poll", feed.name, type(exc).__name__)
        error = WatcherError(f"internal error: {type(exc).__name__}: {exc}")
        return await _record_failure(ctx, feed, state, error, {})


async def _record_failure(
    ctx: Context,
    feed: FeedConfig,
    state: FeedState,
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


async def _poll(ctx: Context, feed: FeedConfig, state: FeedState) -> PollReport:
    resp = await ctx.fetcher.get(
        state.url,
        etag=state.etag,
        last_modified=state.last_modified,
        headers=dict(feed.headers),
        accept=FEED_ACCEPT,
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
        await _save(ctx, feed, state, update)
        return PollReport(feed.name, "304")
    body_hash = hashlib.sha256(resp.body).hexdigest()
    update = dataclasses.replace(update, body_hash=body_hash)
    if body_hash == state.body_hash:
        update = _schedule(ctx, feed, state, update, 0, None, max_age)
        await _save(ctx, feed, state, update)
        return PollReport(feed.name, "unchanged")
    parsed = await ctx.pool.parse(resp.body, resp.url, now, resp.headers)
    fresh, changed = await _new_entries(ctx, feed, parsed.entries)
    items = await _build(ctx, feed, fresh, now)
    updates = await _updates(ctx, feed, changed, now)
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
    state: FeedState,
    update: FeedUpdate,
    items: Sequence[StoryToSave] = (),
    updates: Sequence[UpdateToSave] = (),
) -> None:
    """Store the poll's outcome, in one transaction with the other polls that finished about
    the same moment, then the feed's health, only when the outcome can change it."""
    batches = ctx.batches
    failed = await batches.write(PollToSave(feed.name, update, items, updates))
    if failed is not None:
        raise failed
    if changes_health(state, update, ctx.config.polling.health_threshold):
        async with batches.writing:
            await asyncio.to_thread(
                record_health, ctx.store, ctx.config, feed.name, update.polled_at
            )


def _schedule(
    ctx: Context,
    feed: FeedConfig,
    state: FeedState,
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


async def _new_entries(
    ctx: Context, feed: FeedConfig, entries: Sequence[Entry]
) -> tuple[list[Entry], list[tuple[Entry, int]]]:
    """Entries whose identity, canonical link and content are all unseen (first of each wins),
    and entries already stored under the same key or link whose headline changed materially
    (with the stored story's id)."""
    keyed = [k for e in entries if (k := _entry_keys(feed, e)) is not None]
    seen = await ctx.batches.known(
        KnownAsk(
            feed.name,
            tuple(k for _, k, _, _ in keyed),
            tuple(u for _, _, u, _ in keyed if u),
            tuple(h for _, _, _, h in keyed),
        )
    )
    keys, urls, hashes = set(seen.keys), set(seen.urls), set(seen.hashes)
    out = []
    changed: list[tuple[Entry, int]] = []
    for entry, key, url, digest in keyed:
        if key in keys or (url and url in urls) or digest in hashes:
            stored = seen.titles.get(key) or (seen.titles.get(url) if url else None)
            if stored and headline_changed(stored[1], entry.title):
                changed.append((entry, stored[0]))
            continue
        keys.add(key)
        hashes.add(digest)
        if url:
            urls.add(url)
        out.append(entry)
    return out, changed


def _entry_keys(feed: FeedConfig, e: Entry) -> tuple[Entry, str, str | None, str] | None:
    """An item's identity, canonical link and content hash; an item they cannot be computed for
    (a malformed link, say) is skipped with a warning and its siblings go on."""
    try:
        return (
            e,
            identity_key(e),
            canonical_url(e.link) if e.link else None,
            content_hash(e.title, e.summary or e.content),
        )
    except Exception as exc:
        log.warning("feed %s: item %r skipped: %s: %s", feed.name, e.link, type(exc).__name__, exc)
        return None


async def _updates(
    ctx: Context, feed: FeedConfig, changed: Sequence[tuple[Entry, int]], now: datetime
) -> list[UpdateToSave]:
    """Re-match stories whose headline changed; alert only rules with `updates: true`."""
    if not changed:
        return []
    bodies = await asyncio.to_thread(story_bodies, ctx.store, [sid for _, sid in changed])
    wants = {r.name for r in ctx.config.rules if r.updates}
    out = []
    for entry, sid in changed:
        try:
            out.append(_update(ctx, feed, entry, sid, bodies.get(sid, ""), wants, now))
        except Exception as exc:
            log.warning(
                "feed %s: headline update %r skipped: %s: %s",
                feed.name,
                entry.link,
                type(exc).__name__,
                exc,
            )
    return out


def _update(
    ctx: Context,
    feed: FeedConfig,
    entry: Entry,
    sid: int,
    body: str,
    wants: set[str],
    now: datetime,
) -> UpdateToSave:
    doc = Document(
        title=entry.title, summary=entry.summary, body=body, feed=feed.name, tags=feed.tags
    )
    matches = tuple(ctx.rules.match(doc))
    story = AlertStory(
        title=entry.title,
        url=strip_tracking(entry.link) if entry.link else None,
        feed=feed.name,
        published_at=entry.published_at,
        language=None,
        summary=entry.summary,
    )
    alerts = build_alerts(
        ctx.config, story, [m for m in matches if m.rule in wants], now, kind="update"
    )
    return UpdateToSave(
        story_id=sid,
        title=entry.title,
        summary=entry.summary,
        search_text=normalise_text(f"{entry.title}\n{entry.summary}\n{body}"),
        matches=matches,
        alerts=alerts,
    )


async def _build(
    ctx: Context, feed: FeedConfig, entries: Sequence[Entry], now: datetime
) -> list[StoryToSave]:
    gate = asyncio.Semaphore(PAGE_FETCHES_PER_FEED)

    async def text(entry: Entry) -> tuple[str, str]:
        async with gate:
            return await _article_text(ctx, feed, entry)

    texts = await asyncio.gather(*(text(e) for e in entries))
    items = [(e, body, origin) for e, (body, origin) in zip(entries, texts, strict=True)]
    prepared = await ctx.pool.prepare(FeedRef(feed.name, feed.tags), items, now)
    out = []
    for p in prepared:
        if isinstance(p, Skipped):
            log.warning("feed %s: item %r skipped: %s", feed.name, p.link, p.reason)
        else:
            out.append(_story_to_save(ctx, p, now))
    return out


async def _article_text(ctx: Context, feed: FeedConfig, entry: Entry) -> tuple[str, str]:
    """The article's text from its page, else the feed's own content or summary."""
    fallback = entry.content or entry.summary
    if not feed.extract or not entry.link:
        return fallback, "feed"
    url = entry.link
    try:
        url = strip_tracking(entry.link)
        page = await ctx.fetcher.get(url, accept=PAGE_ACCEPT)
        if page.status >= 400:
            raise status_error(page)
    except FetchError as exc:
        log.debug("page feed=%s url=%s not fetched: %s; using the feed's text", feed.name, url, exc)
        return fallback, "feed"
    except Exception as exc:
        log.warning("feed %s: page %r not fetched (%r); using the feed's text", feed.name, url, exc)
        return fallback, "feed"
    try:
        extracted = await ctx.pool.extract(page.body, page.url)
    except Exception as exc:  # over its deadline or memory ceiling, or a bug: this story only
        log.warning(
            "feed %s: page %s not extracted (%s); using the feed's text", feed.name, url, exc
        )
        return fallback, "feed"
    if extracted is None:
        return fallback, "feed"
    return extracted.text, "page"


def _story_to_save(ctx: Context, prepared: Prepared, now: datetime) -> StoryToSave:
    story = prepared.story
    alert_story = AlertStory(
        title=story.title,
        url=story.url,
        feed=story.feed,
        published_at=story.published_at,
        language=story.language,
        summary=story.summary,
    )
    return StoryToSave(
        story=story,
        matches=prepared.matches,
        fingerprint=prepared.fingerprint,
        alerts=partial(cluster_alerts, ctx.config, alert_story, prepared.matches, now),
    )
