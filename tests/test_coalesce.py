"""The coalescer behind group commits: calls made together run together, in order, each caller
gets its own result, and calls queued behind a running batch join the next one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from watcher.store.coalesce import DELIVERY, PAGE, POLL, Coalescer, WriteTurns


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


def test_cost_bounds_a_batch_and_rank_takes_the_urgent_first() -> None:
    runs: list[list[int]] = []
    release = threading.Event()

    def slow(keys: list[int]) -> list[int]:
        runs.append(keys)
        if len(runs) == 1:
            release.wait(5)
        return keys

    async def main() -> list[int]:
        # cost: the key itself; at most 10 a batch; odd keys rank before even ones
        c: Coalescer[int, int] = Coalescer(
            slow, 0.0, asyncio.Lock(), limit=10, cost=lambda k: k, rank=lambda k: 1 - k % 2
        )
        first = asyncio.ensure_future(c(9))
        await asyncio.sleep(0.05)  # the first run holds the lock while the rest arrive
        later = [asyncio.ensure_future(c(k)) for k in (2, 3, 4, 5, 6, 12)]
        await asyncio.sleep(0.05)
        release.set()
        return list(await asyncio.gather(first, *later))

    assert asyncio.run(main()) == [9, 2, 3, 4, 5, 6, 12]
    # odd first, in order; a batch stops before its cost passes 10 (12 alone is past it)
    assert runs == [[9], [3, 5, 2], [4, 6], [12]]


def test_write_turns_go_to_the_most_urgent_waiter_first() -> None:
    order: list[str] = []

    async def main() -> None:
        turns = WriteTurns()
        hold = asyncio.Event()

        async def write(name: str, priority: int, wait: bool = False) -> None:
            async with turns.turn(priority):
                order.append(name)
                if wait:
                    await hold.wait()

        first = asyncio.ensure_future(write("page-1", PAGE, wait=True))
        await asyncio.sleep(0)
        queued = [
            asyncio.ensure_future(write(name, p))
            for name, p in (
                ("page-2", PAGE),
                ("poll-1", POLL),
                ("send", DELIVERY),
                ("poll-2", POLL),
            )
        ]
        await asyncio.sleep(0)
        assert turns.waiting() == 4 and turns.waiting(POLL) == 2
        hold.set()
        await asyncio.gather(first, *queued)
        assert not turns.locked()

    asyncio.run(main())
    assert order == ["page-1", "send", "poll-1", "poll-2", "page-2"]
