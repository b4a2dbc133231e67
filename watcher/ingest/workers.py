"""CPU-bound pure stages (parsing, article extraction, preparing stories) in worker processes.

Why processes: on a first poll of a thousand feeds, the event loop's process spends most of its
CPU in feedparser, trafilatura, language detection, fingerprints and matching, and threads share
one core under the GIL. Workers leave that process its core for HTTP and the database, and a
crash in a C parser (lxml, expat) on a hostile document breaks a worker, not the daemon: the
pool is restarted and only that poll fails.

Workers are forked from a fork server that has already imported the pure stages and loaded
their lazy models (the language identifier's tables alone are ~70 MB), so one starts in
milliseconds and its pages stay shared with the fork server's instead of each worker loading its
own copy; they compile the rule set once each. A config reload makes a new WorkerPool (the old one
finishes what it was given). `workers: 0` runs the same functions in threads.

Workers are started by load: none until a poll has work for one, then one, and another (up to
`workers`) only while tasks wait for a free worker. A pool that has had nothing to do for
IDLE_SECONDS exits, and the fork server with it once no pool is left: a daemon whose feeds are
not due holds no worker memory, and a pool grown by a burst starts again at one worker.

Workers live and die with the daemon: each watches the daemon's process (a pidfd, readable the
moment it exits) and exits with it, however it ended (kill -9 included). Nothing else would end
them: they ignore SIGTERM, and the pool's queues they block on are held open by the workers
themselves. The fork server and the resource tracker exit on their own once the daemon and the
last worker have closed their pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import multiprocessing
import multiprocessing.forkserver
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
from typing import TYPE_CHECKING, Any, TypeVar

from watcher import metrics
from watcher.config import Config
from watcher.errors import WatcherError, WorkerError
from watcher.ingest import bounds
from watcher.ingest.bounds import WorkerLimits, largest_mb, run_bounded
from watcher.ingest.parse import Entry, ParsedFeed, parse_feed
from watcher.ingest.prepare import (
    Completed,
    FeedRef,
    Prepared,
    Skipped,
    complete_story,
    prepare_stories,
)
from watcher.rules import RuleSet, RuleSpec, normalise_text

if TYPE_CHECKING:
    from watcher.ingest.extract import Extracted

log = logging.getLogger("watcher.ingest.workers")

T = TypeVar("T")

AUTO_WORKERS_MAX = 4
GROW_AFTER = 0.25
"""Seconds a task waits for a busy pool before another worker is started (up to `workers`)."""
IDLE_SECONDS = 60.0
"""A pool with no task for this long exits; so does a grown one whose extra workers sat idle."""
SERVER_GRACE = 10.0
"""Seconds the fork server outlives a pool replaced (recycled, shrunk, broken) by none: a
busy daemon starts the next one at once, an idle one has ~100 MB of models to give back."""
_RULES: RuleSet | None = None  # a worker's compiled rule set

_POOLS_LOCK = threading.Lock()
_POOLS_LIVE = 0  # executors of this process started and not yet wound down


def _extract_article(body: bytes, url: str) -> Extracted | None:
    """Run in a worker. Imported here and not at the top: the daemon sends this function by
    name and never runs it, so it does not load what extracting needs (trafilatura, lxml,
    numpy and the language models: ~12 MB and half a second of its start-up)."""
    from watcher.ingest.extract import extract_article

    return extract_article(body, url)


def warm_up() -> None:
    """Run in the fork server, before it forks any worker (see watcher.ingest.forkserver).

    What the stages load on first use is loaded here once, so workers share those pages
    copy-on-write instead of each loading its own: the language identifier's model (py3langid,
    the fallback when CLD2 abstains: ~70 MB resident per process that loaded it), the word
    classes, a story's whole preparation. gc.freeze() keeps a worker's collections from
    writing to every inherited object's header (which would copy the page it sits on), and
    malloc_trim hands back what loading freed."""
    import py3langid

    now = datetime(2000, 1, 1)
    text = "Delegations met again in Geneva on Tuesday; talks resume next week."
    entry = Entry(
        guid="warm-up",
        link="https://example.org/",
        title=text,
        summary=text,
        content="",
        published_at=now,
    )
    prepare_stories(RuleSet.compile([], {}), FeedRef("warm-up"), [(entry, text, "feed")], now)
    normalise_text(text)
    py3langid.classify(text)
    gc.collect()
    gc.freeze()
    _trim()


def _trim() -> None:
    """Give the C heap's free pages back to the kernel (glibc only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _pool_started() -> None:
    global _POOLS_LIVE
    with _POOLS_LOCK:
        _POOLS_LIVE += 1


def _pool_started_failed() -> None:
    global _POOLS_LIVE
    with _POOLS_LOCK:
        _POOLS_LIVE -= 1


def _pool_ended(executor: _Executor, stop_server: bool) -> None:
    """Wait for a retired pool's workers to exit, then, with `stop_server`, stop the fork server
    if no pool is left."""
    global _POOLS_LIVE
    executor.shutdown(wait=True)
    with _POOLS_LOCK:
        _POOLS_LIVE -= 1
    if stop_server:
        _stop_server_if_unused()


def _stop_server_if_unused() -> None:
    """The fork server holds the stages' models (~100 MB): with no pool left, it goes, and the
    next pool starts a fresh one. Never while a pool lives: its workers' exit statuses come
    through the server, and one that went first would make them all look dead."""
    with _POOLS_LOCK:
        if _POOLS_LIVE == 0:
            server = getattr(multiprocessing.forkserver, "_forkserver", None)
            with contextlib.suppress(AttributeError, OSError, ChildProcessError):
                server._stop()  # type: ignore[union-attr]


class _Executor(ProcessPoolExecutor):
    """A process pool that forks a worker only for a task that has none: at most `busy` (tasks
    handed over and not answered) and `wanted` (raised by the WorkerPool while tasks wait).
    ProcessPoolExecutor alone forks one whenever a task finds no worker idle, racing the one
    about to be free, and keeps it for good."""

    def __init__(self, workers: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(workers, *args, **kwargs)
        self.wanted = 1
        self.busy = 0
        self.peak = 0  # most tasks in flight at once since `since`
        self.since = time.monotonic()
        self.grown = 0.0  # when `wanted` was last raised
        self.ended = False
        self.gate: asyncio.Semaphore | None = None  # `wanted` permits, taken per task
        self.waiting = 0  # tasks waiting for a permit
        self.grow: asyncio.TimerHandle | None = None
        self.idle: asyncio.TimerHandle | None = None

    def _adjust_process_count(self) -> None:
        processes = getattr(self, "_processes", None) or {}
        if len(processes) < min(self.wanted, self.busy):
            self._spawn_process()  # type: ignore[attr-defined]


def _wind_down(
    executor: _Executor, cancel: bool = False, wait: bool = False, stop_server: bool = False
) -> None:
    """New tasks go elsewhere; the pool finishes what it was given (unless `cancel`), and its
    end is accounted once, in a thread unless `wait`."""
    for timer in (executor.idle, executor.grow):
        if timer is not None:
            timer.cancel()
    executor.shutdown(wait=False, cancel_futures=cancel)
    if executor.ended:
        return
    executor.ended = True
    if wait:
        _pool_ended(executor, stop_server)
    else:
        threading.Thread(
            target=_pool_ended, args=(executor, stop_server), name="worker-pool-end", daemon=True
        ).start()


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
            # do (bench_polling); a ceiling, as workers start only while tasks wait for one.
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
        self._pool: _Executor | None = None
        self._limits = limits or bounds.DEFAULT_LIMITS
        self._tasks = 0  # run by the current pool
        self._starting = asyncio.Lock()
        self._retrying = asyncio.Lock()

    async def _executor(self) -> _Executor | None:
        if self._workers <= 0:
            return None
        async with self._starting:
            if self._pool is None:
                pool = await asyncio.to_thread(self._start_pool)
                pool.gate = asyncio.Semaphore(1)
                self._pool = pool
        return self._pool

    def _start_pool(self) -> _Executor:
        """Off the event loop, and the first worker up before the first task: the fork server
        imports the parsers and loads the models before it forks (a second or two idle, more
        under load), and a stalled loop runs in-flight requests past their deadlines. Later
        workers fork from the running server in milliseconds."""
        _pool_started()
        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["watcher.ingest.forkserver"])
            pool = _Executor(
                self._workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self._specs, self._term_lists, os.getpid()),
            )
            pool.busy = 1
            pool.submit(int).result()
            pool.busy = 0
        except BaseException:
            _pool_started_failed()
            raise
        return pool

    async def _slot(self) -> _Executor | None:
        """The current pool, once it has a worker free for one more task (None: threads)."""
        while True:
            executor = await self._executor()
            if executor is None or executor.gate is None:
                return executor
            if executor.gate.locked() and executor.grow is None:
                executor.grow = asyncio.get_running_loop().call_later(
                    GROW_AFTER, self._grow, executor
                )
            executor.waiting += 1
            try:
                await executor.gate.acquire()
            finally:
                executor.waiting -= 1
            if self._pool is executor:
                return executor
            executor.gate.release()  # replaced while we waited: take the new one

    def _grow(self, executor: _Executor) -> None:
        """Tasks have waited GROW_AFTER for a worker: one more, up to `workers`, and again
        after as long while they still wait."""
        executor.grow = None
        if self._pool is not executor or not executor.waiting or executor.gate is None:
            return
        if executor.wanted < self._workers:
            executor.wanted += 1
            executor.gate.release()
            log.debug("tasks waiting: worker processes up to %d", executor.wanted)
        if executor.wanted < self._workers:
            executor.grow = asyncio.get_running_loop().call_later(GROW_AFTER, self._grow, executor)

    def _begin(self, executor: _Executor) -> None:
        if executor.idle is not None:
            executor.idle.cancel()
            executor.idle = None
        executor.busy += 1
        executor.peak = max(executor.peak, executor.busy)

    def _end(self, executor: _Executor) -> None:
        """A task done: a pool left idle exits after IDLE_SECONDS; one grown past what the
        last IDLE_SECONDS needed at once is replaced by a one-worker pool."""
        executor.busy -= 1
        if executor.gate is not None:
            executor.gate.release()
        if self._pool is not executor:
            return
        now = time.monotonic()
        if now - executor.since >= IDLE_SECONDS:
            if executor.wanted > 1 and executor.peak < executor.wanted:
                log.info("fewer worker processes: %d were more than needed", executor.wanted)
                self._retire(executor)
                return
            executor.since, executor.peak = now, executor.busy
        if executor.busy == 0:
            executor.idle = asyncio.get_running_loop().call_later(
                IDLE_SECONDS, self._idle, executor
            )

    def _idle(self, executor: _Executor) -> None:
        if self._pool is executor and executor.busy == 0:
            log.debug("worker processes idle for %gs: stopping them", IDLE_SECONDS)
            self._pool, self._tasks = None, 0
            _wind_down(executor, stop_server=True)

    def _unused(self) -> None:
        """A pool was replaced and no new one was needed since: the fork server may go."""
        if self._pool is None:
            threading.Thread(
                target=_stop_server_if_unused, name="fork-server-stop", daemon=True
            ).start()

    def _stop_server_later(self) -> None:
        with contextlib.suppress(RuntimeError):  # no event loop: close() stops it
            asyncio.get_running_loop().call_later(SERVER_GRACE, self._unused)

    async def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        for attempt in (1, 2):
            executor = None
            started = time.monotonic()
            # second tries run one at a time: a task that kills its worker again then takes
            # down a pool running only itself, and the innocent ones it broke before succeed
            turn = self._retrying if attempt == 2 else contextlib.nullcontext()
            try:
                async with turn:
                    executor = await self._slot()
                    if executor is None:
                        return await self._in_thread(what, fn, *args)
                    self._begin(executor)
                    try:
                        return await self._in_worker(executor, what, fn, *args)
                    finally:
                        self._end(executor)
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
        self, executor: _Executor, what: str, fn: Callable[..., T], *args: Any
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

    def _after_task(self, executor: _Executor) -> None:
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

    def _retire(self, executor: _Executor) -> None:
        """New tasks go to a new pool; the old one finishes what it was given."""
        if self._pool is executor:
            self._pool = None
            self._tasks = 0
        _wind_down(executor)
        self._stop_server_later()

    def _discard(self, executor: _Executor | None) -> None:
        if executor is not None:
            _wind_down(executor, cancel=True)
            if self._pool is executor:
                self._pool = None
                self._tasks = 0
            self._stop_server_later()

    def _kill(self, executor: _Executor) -> None:
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
        return await self._run("extracting", _extract_article, body, url)

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
            _wind_down(pool, wait=wait, stop_server=True)

    def kill(self) -> None:
        """Stop the workers now, work in hand abandoned (shutdown past its grace)."""
        if self._pool is not None:
            self._kill(self._pool)


def _pids(executor: Executor) -> list[int]:
    processes = getattr(executor, "_processes", None) or {}
    return list(processes)
