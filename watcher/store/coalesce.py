"""Coalescing: many small database calls made at about the same moment, run as one.

A thousand feeds polled together each need their state read and, after a 304, a few columns
written. One transaction per feed costs about a millisecond of CPU in SQLAlchemy, more than the
HTTP request itself; one transaction per batch costs that once. Callers still await their own
result, so "poll_feed returned" keeps meaning "its outcome is stored".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


class Coalescer(Generic[K, R]):
    """Collects calls for `window` seconds (0: those made in the same event-loop turn), then
    runs `run` once in a worker thread over their keys (at most `limit`), in order, one result
    per key. With `lock`, the run waits for it (writers queue in the event loop, in order,
    instead of polling SQLite's busy handler, which lets a writer starve past its timeout under
    load), and takes every call that arrived while it waited."""

    def __init__(
        self,
        run: Callable[[list[K]], Sequence[R]],
        window: float = 0.0,
        lock: asyncio.Lock | None = None,
        limit: int = 0,
    ) -> None:
        self._run = run
        self._window = window
        self._lock = lock
        self._limit = limit  # keys per run at most; 0: no limit
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

    async def _run_batch(self) -> None:
        cut = self._limit or len(self._pending)
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
