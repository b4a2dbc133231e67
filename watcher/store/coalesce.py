"""Coalescing: many small database calls made at about the same moment, run as one; and the
process's write transactions taking turns, most urgent first.

A thousand feeds polled together each need their state read and, after a 304, a few columns
written. One transaction per feed costs about a millisecond of CPU in SQLAlchemy, more than the
HTTP request itself; one transaction per batch costs that once. Callers still await their own
result, so "poll_feed returned" keeps meaning "its outcome is stored".
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


# Turn priorities, most urgent first. Deliveries' writes are a few rows each and an alert is
# waiting on them; a poll's write stores new stories and the alerts their headlines raise; an
# article page's write completes a story already stored and alerted.
DELIVERY, POLL, PAGE = 0, 1, 2


class WriteTurns:
    """This process's write transactions, one at a time; when the one running ends, the most
    urgent waiter goes next (FIFO within a priority). SQLite lets one writer in at a time and
    makes the others poll its busy handler (sleeps of up to 100 ms), so a small write issued
    beside a stream of large ones from the same process can wait out several of them; here it
    waits for at most the one running. `async with turns:` takes a POLL turn."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def turn(self, priority: int) -> _Turn:
        """An async context manager that holds a turn at `priority` (reusable)."""
        return _Turn(self, priority)

    async def acquire(self, priority: int) -> None:
        if not self._busy and not self._waiting:
            self._busy = True
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the turn was handed over as the waiter was cancelled
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)  # the turn passes on; _busy stays set
                return
        self._busy = False

    def locked(self) -> bool:
        return self._busy

    def waiting(self, priority: int | None = None) -> int:
        """Writers waiting for a turn (at `priority`, or all)."""
        return sum(
            1 for p, _, f in self._waiting if not f.done() and (priority is None or p == priority)
        )

    async def __aenter__(self) -> None:
        await self.acquire(POLL)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class _Turn:
    def __init__(self, turns: WriteTurns, priority: int) -> None:
        self._turns = turns
        self._priority = priority

    async def __aenter__(self) -> None:
        await self._turns.acquire(self._priority)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._turns.release()


class Coalescer(Generic[K, R]):
    """Collects calls for `window` seconds (0: those made in the same event-loop turn), then
    runs `run` once in a worker thread over their keys (at most `limit`), in order, one result
    per key. With `lock`, the run waits for it (writers queue in the event loop, in order,
    instead of polling SQLite's busy handler, which lets a writer starve past its timeout under
    load), and takes every call that arrived while it waited. With `cost`, `limit` bounds the
    keys' summed cost instead of their number (a batch always takes its first key), so one
    transaction's length is bounded by its work, not by how many callers it serves. With
    `rank`, calls waiting are taken lowest rank first (in order within a rank)."""

    def __init__(
        self,
        run: Callable[[list[K]], Sequence[R]],
        window: float = 0.0,
        lock: AbstractAsyncContextManager[Any] | None = None,
        limit: int = 0,
        cost: Callable[[K], int] | None = None,
        rank: Callable[[K], int] | None = None,
    ) -> None:
        self._run = run
        self._window = window
        self._lock = lock
        self._limit = limit  # keys (or cost) per run at most; 0: no limit
        self._cost = cost
        self._rank = rank
        self._pending: list[tuple[K, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def __call__(self, key: K) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((key, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(self._window)
        if self._lock is None:
            await self._run_batch()
            return
        # The batch is cut once the lock is ours: calls made while an earlier run held it
        # join this one, so under load each run takes all that queued (a group commit).
        async with self._lock:
            await self._run_batch()

    def _cut(self) -> int:
        if not self._limit:
            return len(self._pending)
        if self._cost is None:
            return self._limit
        total = 0
        for n, (key, _) in enumerate(self._pending):
            total += self._cost(key)
            if total > self._limit and n:
                return n
        return len(self._pending)

    async def _run_batch(self) -> None:
        if self._rank is not None:
            rank = self._rank
            self._pending.sort(key=lambda call: rank(call[0]))  # stable: in order within a rank
        cut = self._cut()
        batch, self._pending = self._pending[:cut], self._pending[cut:]
        # what is left, or comes meanwhile, is the next run's
        self._flusher = asyncio.create_task(self._flush()) if self._pending else None
        try:
            results = await asyncio.to_thread(self._run, [k for k, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every waiter learns what happened to its call
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
