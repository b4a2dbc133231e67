"""The coalescer behind group commits: calls made together run together, in order, each caller
gets its own result, and calls queued behind a running batch join the next one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from watcher.store.coalesce import Coalescer


def test_calls_made_together_run_as_one_batch_with_their_own_results() -> None:
    runs: list[list[int]] = []

    def double(keys: list[int]) -> list[int]:
        runs.append(keys)
        return [k * 2 for k in keys]

    async def main() -> list[int]:
        c: Coalescer[int, int] = Coalescer(double)
        return list(await asyncio.gather(*(c(i) for i in range(5))))

    assert asyncio.run(main()) == [0, 2, 4, 6, 8]
    assert runs == [[0, 1, 2, 3, 4]]


def test_limit_splits_and_calls_waiting_on_the_lock_join_one_batch() -> None:
    runs: list[list[int]] = []
    release = threading.Event()

    def slow(keys: list[int]) -> list[int]:
        runs.append(keys)
        if len(runs) == 1:
            release.wait(5)  # the first run holds the lock while the rest arrive
        return keys

    async def main() -> list[int]:
        c: Coalescer[int, int] = Coalescer(slow, 0.0, asyncio.Lock(), limit=3)
        first = [asyncio.ensure_future(c(i)) for i in range(2)]
        await asyncio.sleep(0.05)  # the first run is now in its thread
        later = [asyncio.ensure_future(c(i)) for i in range(2, 9)]
        await asyncio.sleep(0.05)
        release.set()
        return list(await asyncio.gather(*first, *later))

    assert asyncio.run(main()) == list(range(9))
    assert runs == [[0, 1], [2, 3, 4], [5, 6, 7], [8]]


def test_a_failed_run_reaches_every_caller_of_that_batch() -> None:
    def fail(keys: list[int]) -> list[int]:
        raise RuntimeError("disk full")

    async def main() -> None:
        c: Coalescer[int, int] = Coalescer(fail)
        results = await asyncio.gather(c(1), c(2), return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)

    asyncio.run(main())


@pytest.mark.parametrize("limit", [0, 1])
def test_results_keep_their_callers_order(limit: int) -> None:
    async def main() -> list[str]:
        c: Coalescer[str, str] = Coalescer(lambda ks: [k.upper() for k in ks], limit=limit)
        return list(await asyncio.gather(*(c(k) for k in "abc")))

    assert asyncio.run(main()) == ["A", "B", "C"]
