"""CPU-bound pure stages (parsing, article extraction, preparing stories) in worker processes.

Why processes: on a first poll of a thousand feeds, the event loop's process spends most of its
CPU in feedparser, trafilatura, language detection, fingerprints and matching, and threads share
one core under the GIL. Workers leave that process its core for HTTP and the database, and a
crash in a C parser (lxml, expat) on a hostile document breaks a worker, not the daemon: the
pool is restarted and only that poll fails.

Workers are forked from a fork server that has already imported the pure stages, so one starts
in milliseconds, and they compile the rule set once each. A config reload makes a new WorkerPool
(the old one finishes what it was given). `workers: 0` runs the same functions in threads.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from watcher.config import Config
from watcher.errors import WatcherError
from watcher.ingest.extract import Extracted, extract_article
from watcher.ingest.parse import Entry, ParsedFeed, parse_feed
from watcher.ingest.prepare import FeedRef, Prepared, prepare_stories
from watcher.rules import RuleSet, RuleSpec

log = logging.getLogger("watcher.ingest.workers")

T = TypeVar("T")

AUTO_WORKERS_MAX = 4
_RULES: RuleSet | None = None  # a worker's compiled rule set


def _init_worker(specs: Sequence[RuleSpec], term_lists: Mapping[str, Sequence[str]]) -> None:
    # Ctrl-C and systemd's SIGTERM reach the whole process group; the daemon finishes its
    # in-flight polls on them and then stops its workers, which must still be there to help.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    global _RULES
    _RULES = RuleSet.compile(specs, term_lists)


def _prepare_in_worker(
    source: FeedRef, items: Sequence[tuple[Entry, str, str]], now: datetime
) -> list[Prepared]:
    assert _RULES is not None, "worker started without its rules"
    return prepare_stories(_RULES, source, items, now)


class WorkerPool:
    """Where a poll's CPU work runs. `workers` processes, or threads when 0."""

    @classmethod
    def for_config(cls, config: Config, rules: RuleSet) -> WorkerPool:
        workers = config.polling.workers
        if workers is None:
            # The database writer, in the daemon's own process, saturates before two workers
            # do (bench_polling), and each worker holds ~130 MB of parsers and models.
            workers = min(os.cpu_count() or 1, AUTO_WORKERS_MAX)
        return cls(rules, [r.spec for r in config.rules], config.term_lists, workers)

    def __init__(
        self,
        rules: RuleSet,
        specs: Sequence[RuleSpec],
        term_lists: Mapping[str, Sequence[str]],
        workers: int,
    ) -> None:
        self.rules = rules
        self._specs = tuple(specs)
        self._term_lists = {k: tuple(v) for k, v in term_lists.items()}
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._starting = asyncio.Lock()

    async def _executor(self) -> Executor | None:
        if self._workers <= 0:
            return None
        async with self._starting:
            if self._pool is None:
                self._pool = await asyncio.to_thread(self._start_pool)
        return self._pool

    def _start_pool(self) -> ProcessPoolExecutor:
        """Off the event loop, and every worker up before the first task: the fork server
        imports the parsers and models before it forks (half a second idle, seconds under
        load), and a stalled loop runs in-flight requests past their deadlines."""
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["watcher.ingest.workers"])
        pool = ProcessPoolExecutor(
            self._workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(self._specs, self._term_lists),
        )
        for started in [pool.submit(int) for _ in range(self._workers)]:
            started.result()  # each submit beyond the idle workers spawns one
        return pool

    async def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        executor = None
        try:
            executor = await self._executor()
            if executor is None:
                return await asyncio.to_thread(fn, *args)
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except WatcherError:
            raise
        except BrokenProcessPool as exc:
            # a worker died (killed, out of memory, a crash in C): start afresh next time
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
                if self._pool is executor:
                    self._pool = None
            raise WatcherError(f"{what}: a worker process died ({exc})") from exc
        except Exception as exc:
            # A bug met on hostile input: that feed's poll fails with it on record (and
            # retries with backoff) instead of escaping the orchestrator.
            log.exception("%s failed unexpectedly", what)
            raise WatcherError(f"{what} failed: {type(exc).__name__}: {exc}") from exc

    async def parse(
        self, body: bytes, url: str, now: datetime, headers: Mapping[str, str]
    ) -> ParsedFeed:
        return await self._run("parsing", parse_feed, body, url, now, dict(headers))

    async def extract(self, body: bytes, url: str) -> Extracted | None:
        return await self._run("extracting", extract_article, body, url)

    async def prepare(
        self, source: FeedRef, items: Sequence[tuple[Entry, str, str]], now: datetime
    ) -> list[Prepared]:
        if not items:
            return []
        # in threads the rules are ours; a worker process has its own compiled copy
        prepare = partial(prepare_stories, self.rules) if self._workers <= 0 else _prepare_in_worker
        return await self._run("preparing stories", prepare, source, list(items), now)

    def close(self, wait: bool = True) -> None:
        """Stop the workers; with wait=False, work already handed to them still completes."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)
