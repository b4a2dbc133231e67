"""CPU-bound pure stages (parsing, article extraction, preparing stories) in worker processes.

Why processes: on a first poll of a thousand feeds, the event loop's process spends most of its
CPU in feedparser, trafilatura, language detection, fingerprints and matching, and threads share
one core under the GIL. Workers leave that process its core for HTTP and the database, and a
crash in a C parser (lxml, expat) on a hostile document breaks a worker, not the daemon: the
pool is restarted and only that poll fails.

Workers are forked from a fork server that has already imported the pure stages, so one starts
in milliseconds, and they compile the rule set once each. A config reload makes a new WorkerPool
(the old one finishes what it was given). `workers: 0` runs the same functions in threads.

Workers live and die with the daemon: each watches the daemon's process (a pidfd, readable the
moment it exits) and exits with it, however it ended (kill -9 included). Nothing else would end
them: they ignore SIGTERM, and the pool's queues they block on are held open by the workers
themselves. The fork server and the resource tracker exit on their own once the daemon and the
last worker have closed their pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from watcher import metrics
from watcher.config import Config
from watcher.errors import WatcherError, WorkerError
from watcher.ingest import bounds
from watcher.ingest.bounds import WorkerLimits, largest_mb, run_bounded
from watcher.ingest.extract import Extracted, extract_article
from watcher.ingest.parse import Entry, ParsedFeed, parse_feed
from watcher.ingest.prepare import (
    Completed,
    FeedRef,
    Prepared,
    Skipped,
    complete_story,
    prepare_stories,
)
from watcher.rules import RuleSet, RuleSpec

log = logging.getLogger("watcher.ingest.workers")

T = TypeVar("T")

AUTO_WORKERS_MAX = 4
_RULES: RuleSet | None = None  # a worker's compiled rule set


def _init_worker(
    specs: Sequence[RuleSpec], term_lists: Mapping[str, Sequence[str]], daemon: int = 0
) -> None:
    # Ctrl-C and systemd's SIGTERM reach the whole process group; the daemon finishes its
    # in-flight polls on them and then stops its workers, which must still be there to help.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if daemon:
        follow(daemon)
    global _RULES
    _RULES = RuleSet.compile(specs, term_lists)


def follow(pid: int) -> None:
    """Exit this process when process `pid` exits. A worker's parent is the fork server, not
    the daemon, so the parent-death signal (prctl) would watch the wrong process; a pidfd
    watches the daemon itself, and becomes readable even before its exit status is reaped."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)  # gone already
    except (AttributeError, OSError):
        fd = -1  # no pidfd (Linux before 5.3): ask every half second instead

    def watch() -> None:
        if fd >= 0:
            select.select([fd], [], [])
        else:
            while _alive(pid):
                time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="follow-daemon", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prepare_in_worker(
    source: FeedRef, items: Sequence[tuple[Entry, str, str]], now: datetime
) -> list[Prepared | Skipped]:
    assert _RULES is not None, "worker started without its rules"
    return prepare_stories(_RULES, source, items, now)


def _complete_in_worker(
    source: FeedRef, title: str, summary: str, body: str, origin: str
) -> Completed:
    assert _RULES is not None, "worker started without its rules"
    return complete_story(_RULES, source, title, summary, body, origin)


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
        limits: WorkerLimits | None = None,
    ) -> None:
        self.rules = rules
        self._specs = tuple(specs)
        self._term_lists = {k: tuple(v) for k, v in term_lists.items()}
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._limits = limits or bounds.DEFAULT_LIMITS
        self._tasks = 0  # run by the current pool
        self._starting = asyncio.Lock()
        self._retrying = asyncio.Lock()

    async def _executor(self) -> ProcessPoolExecutor | None:
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
            initargs=(self._specs, self._term_lists, os.getpid()),
        )
        for started in [pool.submit(int) for _ in range(self._workers)]:
            started.result()  # each submit beyond the idle workers spawns one
        return pool

    async def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        for attempt in (1, 2):
            executor = None
            started = time.monotonic()
            # second tries run one at a time: a task that kills its worker again then takes
            # down a pool running only itself, and the innocent ones it broke before succeed
            turn = self._retrying if attempt == 2 else contextlib.nullcontext()
            try:
                async with turn:
                    executor = await self._executor()
                    if executor is None:
                        return await self._in_thread(what, fn, *args)
                    return await self._in_worker(executor, what, fn, *args)
            except WatcherError:
                raise
            except BrokenProcessPool as exc:
                # a worker died (killed, out of memory, a crash in C, its CPU limit): start
                # afresh. A task that died well within its own deadline may have shared the pool
                # with the one that broke it, so it gets one more try on the new pool.
                metrics.WORKER_RESTARTS.inc()
                self._discard(executor)
                if attempt == 1 and time.monotonic() - started < self._limits.seconds(what):
                    log.warning("%s: a worker process died; trying once more", what)
                    continue
                raise WorkerError(f"{what}: a worker process died ({exc})") from exc
            except Exception as exc:
                # A bug met on hostile input: that feed's poll fails with it on record (and
                # retries with backoff) instead of escaping the orchestrator.
                log.exception("%s failed unexpectedly", what)
                raise WatcherError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _in_thread(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """A thread cannot be stopped: past the deadline the caller stops waiting for it."""
        seconds = self._limits.seconds(what)
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(fn, *args), WorkerLimits.parent_deadline(seconds)
            )
        except TimeoutError:
            raise WorkerError(f"{what}: over the {seconds:g}s deadline; abandoned") from None

    async def _in_worker(
        self, executor: ProcessPoolExecutor, what: str, fn: Callable[..., T], *args: Any
    ) -> T:
        limits = self._limits
        seconds = limits.seconds(what)
        call = partial(run_bounded, what, seconds, limits.memory_mb, fn, *args)
        future = asyncio.get_running_loop().run_in_executor(executor, call)
        try:
            result = await asyncio.wait_for(future, WorkerLimits.parent_deadline(seconds))
        except TimeoutError:
            self._kill(executor)
            raise WorkerError(
                f"{what}: no answer from the worker within "
                f"{WorkerLimits.parent_deadline(seconds):g}s; it was replaced"
            ) from None
        except WorkerError as exc:
            if "memory ceiling" in str(exc):
                self._retire(executor)  # its heap is fragmented past reuse
            raise
        self._after_task(executor)
        return result

    def _after_task(self, executor: ProcessPoolExecutor) -> None:
        """Replace the pool after `recycle_tasks` tasks, or once a worker has grown past
        `recycle_mb` (a heap that grew on one hostile page does not shrink)."""
        self._tasks += 1
        limits = self._limits
        grown = largest_mb(_pids(executor))
        if self._tasks >= limits.recycle_tasks or grown > limits.recycle_mb:
            log.info(
                "replacing worker processes after %d tasks (largest %.0f MB)", self._tasks, grown
            )
            self._retire(executor)

    def _retire(self, executor: ProcessPoolExecutor) -> None:
        """New tasks go to a new pool; the old one finishes what it was given."""
        if self._pool is executor:
            self._pool = None
            self._tasks = 0
        executor.shutdown(wait=False)

    def _discard(self, executor: Executor | None) -> None:
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
            if self._pool is executor:
                self._pool = None
                self._tasks = 0

    def _kill(self, executor: ProcessPoolExecutor) -> None:
        """A worker that does not answer cannot be told apart from its siblings: the pool goes."""
        for pid in _pids(executor):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self._discard(executor)

    async def parse(
        self, body: bytes, url: str, now: datetime, headers: Mapping[str, str]
    ) -> ParsedFeed:
        return await self._run("parsing", parse_feed, body, url, now, dict(headers))

    async def extract(self, body: bytes, url: str) -> Extracted | None:
        return await self._run("extracting", extract_article, body, url)

    async def prepare(
        self, source: FeedRef, items: Sequence[tuple[Entry, str, str]], now: datetime
    ) -> list[Prepared | Skipped]:
        if not items:
            return []
        # in threads the rules are ours; a worker process has its own compiled copy
        prepare = partial(prepare_stories, self.rules) if self._workers <= 0 else _prepare_in_worker
        return await self._run("preparing stories", prepare, source, list(items), now)

    async def complete(
        self, source: FeedRef, title: str, summary: str, body: str, origin: str
    ) -> Completed:
        complete = (
            partial(complete_story, self.rules) if self._workers <= 0 else _complete_in_worker
        )
        return await self._run("preparing stories", complete, source, title, summary, body, origin)

    @property
    def size(self) -> int:
        """Worker processes (0: threads), so callers can keep about that many tasks queued."""
        return self._workers

    def alive(self) -> bool:
        """False while a worker process is dead and the pool not yet restarted (readiness)."""
        pool = self._pool
        processes = getattr(pool, "_processes", None) or {}
        return all(p.is_alive() for p in processes.values())

    def close(self, wait: bool = True) -> None:
        """Stop the workers; with wait=False, work already handed to them still completes."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)

    def kill(self) -> None:
        """Stop the workers now, work in hand abandoned (shutdown past its grace)."""
        if self._pool is not None:
            self._kill(self._pool)


def _pids(executor: ProcessPoolExecutor) -> list[int]:
    processes = getattr(executor, "_processes", None) or {}
    return list(processes)
