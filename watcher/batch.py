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
    runs `run` once in a worker thread over all their keys, in order, one result per key.
    With `lock`, the run waits for it (writers queue in the event loop, in order, instead of
    polling SQLite's busy handler, which lets a writer starve past its timeout under load)."""

    def __init__(
        self,
        run: Callable[[list[K]], Sequence[R]],
        window: float = 0.0,
        lock: asyncio.Lock | None = None,
    ) -> None:
        self._run = run
        self._window = window
        self._lock = lock
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
        batch, self._pending, self._flusher = self._pending, [], None
        try:
            if self._lock is None:
                results = await asyncio.to_thread(self._run, [k for k, _ in batch])
            else:
                async with self._lock:
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
