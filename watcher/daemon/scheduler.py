"""The daemon's clock: APScheduler 3.x fires two jobs, the database says what is due.

`dispatch` asks the store which feeds' next poll time has come and starts a poll for each one
not already in flight; `deliver` drains the outbox. Next-poll times live in the feeds table, so
a restart resumes where it stopped and APScheduler's in-memory job store holds nothing that
matters. Claims are short leases renewed by a heartbeat while the work is in flight.

SIGTERM/SIGINT stop claiming at once and give in-flight polls and sends `shutdown_grace`; what
is still running then is abandoned (a poll's outcome is one transaction: stored whole or not at
all), every claim is released so another process, or the next start, takes it up at once, and
the process exits 0. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import signal
import time
from collections.abc import Callable, Collection, Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from watchfiles import Change, awatch

from watcher import metrics
from watcher.clock import Clock, utcnow
from watcher.config import Config, load_config
from watcher.config.lint import lint, refusal
from watcher.daemon.heartbeat import heartbeat
from watcher.daemon.reload import summarize
from watcher.daemon.retention import prune
from watcher.errors import ConfigError, StoreError, WatcherError
from watcher.ingest.fetch import Fetcher
from watcher.ingest.workers import WorkerPool
from watcher.logs import Repeats, set_secrets
from watcher.notify.sender import OWNER, deliver_due, send_digests
from watcher.pipeline import Context, PollReport, fetch_limits, poll_feed
from watcher.rules import RuleSet
from watcher.store import Store, sync_feeds
from watcher.store.claims import release_claims
from watcher.store.clusters import prune_bands
from watcher.store.coalesce import WriteTurns
from watcher.store.feeds import claim_due_feeds, release_feed_leases
from watcher.store.outbox import release_leases
from watcher.store.pending import all_pending

log = logging.getLogger("watcher.daemon")

DISPATCH_EVERY = 2.0
DELIVER_EVERY = 5.0


async def run_once(
    config: Config, store: Store, clock: Clock = utcnow, only: Collection[str] | None = None
) -> list[PollReport]:
    """Poll every feed (or those named in `only`) once, concurrently within the fetch limits,
    then deliver what is due."""
    rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
    await release_stale_leases(store)
    await asyncio.to_thread(sync_feeds, store, config.feeds, clock(), config.polling.interval)
    pool = WorkerPool.for_config(config, rules)
    try:
        async with Fetcher(fetch_limits(config)) as fetcher:
            ctx = Context(config, store, fetcher, rules, clock, pool)
            ctx.pages.add(await asyncio.to_thread(all_pending, store))  # a run that was stopped
            feeds = [f for f in config.feeds if only is None or f.name in only]
            reports = await asyncio.gather(*(poll_feed(ctx, f) for f in feeds))
            # every page read before the pass ends: a body-only match is alerted by this run
            await ctx.pages.drain()
            reports = [replace(r, matched=r.matched + ctx.pages.matched[r.feed]) for r in reports]
    finally:
        pool.close()
    beat = asyncio.create_task(heartbeat(store, config.polling.lease, clock, list))
    try:
        await deliver_all(store, config, clock, ctx.batches.writing)
    finally:
        beat.cancel()
    return list(reports)


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return None


async def release_stale_leases(store: Store) -> None:
    """On SQLite one process owns the file, so leases found at start-up are a dead process's:
    its deliveries go out now instead of after the lease runs out."""
    if store.is_sqlite:
        released = await asyncio.to_thread(release_leases, store)
        await asyncio.to_thread(release_feed_leases, store)
        if released:
            log.info("requeued %d delivery(ies) claimed by a process that stopped", released)


async def deliver_all(
    store: Store,
    config: Config,
    clock: Callable[[], datetime],
    turns: WriteTurns | None = None,
) -> None:
    """Send every due delivery (story and feed-health alerts alike) and digest; failed or
    postponed ones wait for a later pass. Digests have no per-row claim, so one process at a
    time sends them. `turns`: the polls' and pages' write turns, which deliveries go before."""
    while sum(await deliver_due(store, config, clock, turns=turns)):
        pass
    with store.advisory_lock("digests") as mine:
        if mine:
            await send_digests(store, config, clock)


def maintain(store: Store, config: Config, now: datetime) -> None:
    """The daily job: retention, and LSH band rows past the clustering window."""
    with store.advisory_lock("maintenance") as mine:
        if not mine:
            return
        prune(store, config.retention, now)
        removed = prune_bands(store, now)
        if removed:
            log.info("retention: deleted %d story band rows past the clustering window", removed)


def settle_heap() -> None:
    """Put what start-up (or a reload) made, which lives as long as the process, out of the
    cyclic collector's sight: polls promote their short-lived objects fast enough to trigger a
    full collection every few hundred polls, and each walked the 170,000 objects of the
    imported modules, config and rules (about 60 ms) again. Unfrozen first, so a reload's old
    config and rules, if in a cycle, are still collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Daemon:
    """The long-running process. Holds the current config; `reload` swaps it atomically."""

    def __init__(self, config: Config, store: Store, clock: Clock = utcnow) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
        self._ctx: Context | None = None
        self._stop = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[PollReport]] = {}
        self._claims: dict[str, str] = {}  # feed name -> fencing token, for polls in flight
        self._jobs: set[asyncio.Task[Any]] = set()  # dispatch and delivery passes running
        self._stopped_at: float | None = None
        self._deliver_lock = asyncio.Lock()  # two passes at once would send a row twice
        self._others: frozenset[str] = frozenset()  # in the feeds table, not in the config
        self._reload_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._repeats = Repeats()  # database trouble, said once per window and job
        self._deliver_waiting = False  # a pass is queued behind the one running

    def stop(self, signum: int = 0) -> None:
        if self._stopped_at is not None and signum:
            log.warning("second signal: exiting at once, claims lapse within polling.lease")
            logging.shutdown()
            os._exit(128 + signum)
        if not self._stop.is_set():
            log.info(
                "stopping: %d poll(s) in flight get %gs to finish",
                len(self._in_flight),
                self.config.polling.shutdown_grace,
            )
            self._stopped_at = time.monotonic()
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self._spawn, self.reload, "SIGHUP")
        await release_stale_leases(self.store)
        self._others = await asyncio.to_thread(
            sync_feeds, self.store, self.config.feeds, self.clock(), self.config.polling.interval
        )
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        async with Fetcher(fetch_limits(self.config)) as fetcher:
            self._ctx = Context(
                config=self.config,
                store=self.store,
                fetcher=fetcher,
                rules=self.rules,
                clock=self.clock,
                pool=WorkerPool.for_config(self.config, self.rules),
            )
            self._ctx.pages.on_alerts = self._deliver_soon
            # pages a stopped (or killed) process left unread, oldest first
            self._ctx.pages.add(await asyncio.to_thread(all_pending, self.store))
            scheduler.add_job(
                self._dispatch,
                "interval",
                seconds=DISPATCH_EVERY,
                next_run_time=datetime.now(UTC),
                max_instances=1,
                coalesce=True,
                id="dispatch",
            )
            scheduler.add_job(
                self._deliver,
                "interval",
                seconds=DELIVER_EVERY,
                next_run_time=datetime.now(UTC),  # what a previous run left queued goes first
                max_instances=1,
                coalesce=True,
                id="deliver",
            )
            scheduler.add_job(
                self._maintain,
                "interval",
                hours=24,
                next_run_time=datetime.now(UTC) + timedelta(minutes=1),
                max_instances=1,
                coalesce=True,
                id="maintenance",
            )
            from watcher.web.server import start_web  # FastAPI and uvicorn: `watcher run` only

            web = start_web(
                self.config,
                self.store,
                lambda: self.config,
                self.clock,
                scheduler=lambda: scheduler.running and not self._stop.is_set(),
                workers=lambda: self._ctx is not None and self._ctx.pool.alive(),
            )
            settle_heap()
            scheduler.start()
            watch = asyncio.create_task(self._watch_config(), name="watch-config")
            beat = asyncio.create_task(
                heartbeat(self.store, self.config.polling.lease, self.clock, self._claims.values),
                name="heartbeat",
            )
            log.info(
                "watching %d feed(s) with %d rule(s)",
                len(self.config.feeds),
                len(self.config.rules),
            )
            try:
                await self._stop.wait()
            finally:
                if web is not None:
                    await web.stop()
                scheduler.shutdown(wait=False)
                watch.cancel()
                abandoned = await self._drain(self._ctx.pages.hold())
                beat.cancel()
                if abandoned:
                    self._ctx.pool.kill()
                else:
                    self._ctx.pool.close()
        if not abandoned and self._left() > 1.0:
            # what the last polls queued goes out now, within what is left of the grace
            try:
                await asyncio.wait_for(self._deliver(), self._left())
            except TimeoutError:
                log.warning("stopping: the last delivery pass was cut short by the grace")
        try:
            feeds, deliveries = await asyncio.to_thread(release_claims, self.store)
            if feeds or deliveries:
                log.info("released %d feed and %d delivery claim(s)", feeds, deliveries)
        except Exception as exc:
            log.warning("could not release claims (they lapse within polling.lease): %s", exc)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        log.info("stopped")

    def _left(self) -> float:
        """Seconds left of the shutdown grace."""
        started = self._stopped_at if self._stopped_at is not None else time.monotonic()
        return self.config.polling.shutdown_grace - (time.monotonic() - started)

    async def _drain(self, pages: set[asyncio.Task[None]]) -> int:
        """Let in-flight polls, article pages and sends finish within the grace; cancel the
        rest (a page cancelled stays pending, for the next start). Returns how many were
        abandoned."""
        running = {*self._in_flight.values(), *self._jobs, *self._background, *pages}
        if not running:
            return 0
        _, pending = await asyncio.wait(running, timeout=max(0.0, self._left()))
        if not pending:
            return 0
        log.warning(
            "stopping: abandoning %d poll(s) and send(s) still running after %gs",
            len(pending),
            self.config.polling.shutdown_grace,
        )
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
        return len(pending)

    async def reload(self, why: str) -> bool:
        """Load the config file again; keep the running config if the new one is invalid."""
        async with self._reload_lock:
            try:
                new = await asyncio.to_thread(load_config, self.config.path)
                rules = RuleSet.compile([r.spec for r in new.rules], new.term_lists)
            except WatcherError as exc:
                problems = exc.problems if isinstance(exc, ConfigError) else [exc]
                for problem in problems:
                    log.error("config reload (%s) refused: %s", why, problem)
                log.error("config reload (%s) refused: keeping the last good config", why)
                metrics.CONFIG_RELOADS.labels(outcome="refused").inc()
                return False
            reason = refusal(self.config, new)
            if reason:
                log.warning(
                    "config reload (%s) refused: %s; keeping the last good config", why, reason
                )
                return False
            text = await asyncio.to_thread(_read_text, new.path)
            for warning in lint(new, text):
                log.warning("config reload (%s): %s", why, warning)
            summary = summarize(self.config, new)
            set_secrets(new.secrets)
            others = await asyncio.to_thread(
                sync_feeds, self.store, new.feeds, self.clock(), new.polling.interval
            )
            self.config, self.rules, self._others = new, rules, others
            if self._ctx is not None:
                old = self._ctx.pool
                self._ctx = replace(
                    self._ctx, config=new, rules=rules, pool=WorkerPool.for_config(new, rules)
                )
                old.close(wait=False)  # polls already running finish on the old workers
            settle_heap()
            log.info("config reloaded (%s): %s", why, summary)
            metrics.CONFIG_RELOADS.labels(outcome="ok").inc()
            return True

    async def _watch_config(self) -> None:
        """Reload when the file changes; watch its folder, since editors replace files."""
        path = Path(self.config.path).resolve()

        def is_config(_change: Change, changed: str) -> bool:
            return Path(changed).name == path.name

        try:
            async for _changes in awatch(
                path.parent, watch_filter=is_config, stop_event=self._stop, debounce=400
            ):
                await self.reload("file changed")
        except (OSError, RuntimeError) as exc:
            log.warning("not watching %s for changes (%s); SIGHUP still reloads", path, exc)

    def _spawn(self, fn: Callable[[str], Coroutine[Any, Any, Any]], arg: str) -> None:
        task = asyncio.get_running_loop().create_task(fn(arg))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _dispatch(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
        try:
            await self._claim_and_poll()
        except Exception as exc:  # the database is away (a restart): try again next time
            self._failed("dispatch", getattr(exc, "orig", None) or exc)
        finally:
            if task is not None:
                self._jobs.discard(task)

    async def _claim_and_poll(self) -> None:
        ctx = self._ctx
        if self._stop.is_set() or ctx is None:
            return
        claimed = await asyncio.to_thread(
            claim_due_feeds,
            self.store,
            OWNER,
            self.clock(),
            ctx.config.feed_names,
            ctx.config.polling.lease,
            skip=self._others | self._in_flight.keys(),
        )
        if self._stop.is_set():
            return  # stopping began meanwhile: the claims are released on the way out
        for name, token in claimed:
            feed = ctx.config.feed(name)
            if feed is None or name in self._in_flight:
                continue
            task = asyncio.create_task(poll_feed(ctx, feed, token), name=f"poll:{name}")
            self._in_flight[name] = task
            self._claims[name] = token
            task.add_done_callback(functools.partial(self._poll_done, name))

    def _poll_done(self, name: str, done: asyncio.Task[PollReport]) -> None:
        self._in_flight.pop(name, None)
        self._claims.pop(name, None)
        if not done.cancelled() and (exc := done.exception()) is not None:
            # poll_feed records its own failures; this is the last edge, so nothing goes unread
            log.error("feed %s: poll task failed", name, exc_info=exc)
        elif not done.cancelled():
            r = done.result()
            metrics.record_poll(r.status, r.new, r.seconds)
        if done.cancelled() or done.exception() is not None or done.result().queued:
            # a 304 or an unchanged body queued nothing: a pass is a database round trip,
            # dearer than the poll itself
            self._deliver_soon()

    def _deliver_soon(self) -> None:
        """A delivery pass now, for the alerts a poll or an article page just queued."""
        if not self._stop.is_set() and not self._deliver_waiting:
            # one pass waiting for the lock takes every alert queued until it starts
            self._deliver_waiting = True
            deliver = asyncio.get_running_loop().create_task(self._deliver())
            self._background.add(deliver)
            deliver.add_done_callback(self._background.discard)

    async def _maintain(self) -> None:
        try:
            await asyncio.to_thread(maintain, self.store, self.config, self.clock())
        except Exception:
            log.exception("maintenance failed; it runs again tomorrow")

    async def _deliver(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
        try:
            async with self._deliver_lock:
                self._deliver_waiting = False  # what is queued from now on wants another pass
                turns = self._ctx.batches.writing if self._ctx is not None else None
                await deliver_all(self.store, self.config, self.clock, turns)
        except StoreError as exc:  # the database is full, read-only or away: not a bug
            self._failed("delivery pass", exc)
        except Exception:
            log.exception("delivery pass failed; pending deliveries stay queued")
        finally:
            if task is not None:
                self._jobs.discard(task)

    def _failed(self, job: str, exc: object) -> None:
        said = str(exc)
        log.log(self._repeats.level(job, said), "%s failed: %s; trying again", job, said)
