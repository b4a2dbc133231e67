"""The daemon's clock: APScheduler 3.x fires two jobs, the database says what is due.

`dispatch` asks the store which feeds' next poll time has come and starts a poll for each one
not already in flight; `deliver` drains the outbox. Next-poll times live in the feeds table, so
a restart resumes where it stopped and APScheduler's in-memory job store holds nothing that
matters. SIGTERM/SIGINT stop dispatching, let in-flight polls finish, deliver, and exit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from watcher.config import Config
from watcher.fetch import Fetcher
from watcher.notify import deliver_due
from watcher.pipeline import Context, PollReport, fetch_limits, poll_feed
from watcher.rules import RuleSet
from watcher.store import Store, due_feeds, sync_feeds

log = logging.getLogger("watcher.daemon")

DISPATCH_EVERY = 2.0
DELIVER_EVERY = 5.0


def utcnow() -> datetime:
    return datetime.now(UTC)


async def run_once(
    config: Config, store: Store, clock: Callable[[], datetime] = utcnow
) -> list[PollReport]:
    """Poll every feed once, concurrently within the fetch limits, then deliver what is due."""
    rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
    await asyncio.to_thread(sync_feeds, store, config.feeds, clock(), config.polling.interval)
    async with Fetcher(fetch_limits(config)) as fetcher:
        ctx = Context(config=config, store=store, fetcher=fetcher, rules=rules, clock=clock)
        reports = await asyncio.gather(*(poll_feed(ctx, f) for f in config.feeds))
    await deliver_due(store, config, clock)
    return list(reports)


class Daemon:
    def __init__(
        self, config: Config, store: Store, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
        self._stop = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[PollReport]] = {}
        self._deliver_lock = asyncio.Lock()  # two passes at once would send a row twice
        self._background: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        if not self._stop.is_set():
            log.info("stopping: finishing %d in-flight poll(s)", len(self._in_flight))
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        await asyncio.to_thread(
            sync_feeds, self.store, self.config.feeds, self.clock(), self.config.polling.interval
        )
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        async with Fetcher(fetch_limits(self.config)) as fetcher:
            ctx = Context(
                config=self.config,
                store=self.store,
                fetcher=fetcher,
                rules=self.rules,
                clock=self.clock,
            )
            scheduler.add_job(
                self._dispatch,
                "interval",
                args=[ctx],
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
                max_instances=1,
                coalesce=True,
                id="deliver",
            )
            scheduler.start()
            log.info(
                "watching %d feed(s) with %d rule(s)",
                len(self.config.feeds),
                len(self.config.rules),
            )
            try:
                await self._stop.wait()
            finally:
                scheduler.shutdown(wait=False)
                if self._in_flight:
                    await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
                if self._background:
                    await asyncio.gather(*self._background, return_exceptions=True)
        await self._deliver()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopped")

    async def _dispatch(self, ctx: Context) -> None:
        if self._stop.is_set():
            return
        names = [f.name for f in self.config.feeds]
        for name in await asyncio.to_thread(due_feeds, self.store, self.clock(), names):
            feed = self.config.feed(name)
            if feed is None or name in self._in_flight:
                continue
            task = asyncio.create_task(poll_feed(ctx, feed), name=f"poll:{name}")
            self._in_flight[name] = task
            task.add_done_callback(functools.partial(self._poll_done, name))

    def _poll_done(self, name: str, _task: object) -> None:
        self._in_flight.pop(name, None)
        if not self._stop.is_set():
            task = asyncio.get_running_loop().create_task(self._deliver())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _deliver(self) -> None:
        async with self._deliver_lock:
            try:
                await deliver_due(self.store, self.config, self.clock)
            except Exception:
                log.exception("delivery pass failed; pending deliveries stay queued")
