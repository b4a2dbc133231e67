"""Worker tasks are bounded: a page that holds trafilatura for a minute is abandoned at its
deadline, a worker that stops answering is killed and replaced, an allocation past the memory
ceiling fails that task alone, and the next task runs on a working pool. Worker memory is read
from outside, from /proc, while the task runs."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from watcher.errors import WorkerError
from watcher.ingest.bounds import WorkerLimits, resident_mb
from watcher.ingest.workers import WorkerPool
from watcher.rules import RuleSet, RuleSpec

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
NESTED = ("<html><body>" + "<div><p>Karabakh talks " * 150_000).encode()  # ~3 MB of nesting
ARTICLE = (
    "<html><body><article><h1>Talks resume</h1>"
    + "<p>Delegations from Armenia and Azerbaijan met in Brussels on Friday for talks.</p>" * 5
    + "</article></body></html>"
).encode()

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")


def pool(limits: WorkerLimits) -> WorkerPool:
    spec = RuleSpec(name="caucasus", any=("Karabakh",))
    return WorkerPool(RuleSet.compile([spec], {}), [spec], {}, 1, limits)


@contextmanager
def peak_worker_mb(off: WorkerPool) -> Iterator[list[float]]:
    """The largest resident size any worker of `off` reaches, sampled from this process."""
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            processes = getattr(off._pool, "_processes", None) or {}
            for pid in list(processes):
                peak[0] = max(peak[0], resident_mb(pid) or 0.0)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield peak
    finally:
        stop.set()
        t.join()


def test_a_page_past_its_deadline_is_abandoned_and_the_next_one_extracts() -> None:
    async def run() -> tuple[str, object, float]:
        roomy = WorkerLimits(extract_seconds=5.0, memory_mb=400)
        off = pool(roomy)
        try:
            await off.extract(ARTICLE, "https://example.org/a")  # the worker is up
            # The extractor's own input cap keeps this page to about half a second, so the
            # deadline is set below that for this one call, however fast the machine.
            off._limits = WorkerLimits(extract_seconds=0.05, memory_mb=400)
            with peak_worker_mb(off) as peak, pytest.raises(WorkerError) as over:
                await off.extract(NESTED, "https://example.org/nested")
            off._limits = roomy
            after = await off.extract(ARTICLE, "https://example.org/a")
            return str(over.value), after, peak[0]
        finally:
            off.close(wait=False)

    message, after, peak = asyncio.run(run())
    assert "extracting" in message
    assert "deadline" in message or "died" in message or "no answer" in message
    assert after is not None and "Delegations" in getattr(after, "text", "")
    assert peak < 900, peak  # 690 MB past the worker's own size before the bound


def test_a_stopped_worker_is_killed_and_replaced() -> None:
    async def run() -> tuple[str, object]:
        off = pool(WorkerLimits(extract_seconds=1.0))
        try:
            await off.extract(ARTICLE, "https://example.org/a")
            pids = list(getattr(off._pool, "_processes", {}))
            pending = asyncio.ensure_future(off.extract(ARTICLE, "https://example.org/b"))
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)  # before it can answer
            with pytest.raises(WorkerError) as stuck:
                await pending
            after = await off.extract(ARTICLE, "https://example.org/c")
            return str(stuck.value), after
        finally:
            off.close(wait=False)

    message, after = asyncio.run(run())
    assert "no answer from the worker" in message and "replaced" in message
    assert after is not None


def test_an_allocation_past_the_ceiling_fails_that_task_alone() -> None:
    async def run() -> tuple[str, int, float]:
        off = pool(WorkerLimits(memory_mb=300))
        try:
            await off.extract(ARTICLE, "https://example.org/a")
            with peak_worker_mb(off) as peak, pytest.raises(WorkerError) as over:
                await off._run("extracting", bytearray, 2_000_000_000)
            again = await off._run("extracting", len, b"fine")
            return str(over.value), again, peak[0]
        finally:
            off.close(wait=False)

    message, again, peak = asyncio.run(run())
    assert "memory ceiling" in message
    assert again == 4
    assert peak < 700, peak


def test_workers_are_replaced_after_n_tasks() -> None:
    async def run() -> set[int]:
        off = pool(WorkerLimits(recycle_tasks=2))
        seen: set[int] = set()
        try:
            for _ in range(4):
                seen.add(await off._run("parsing", os.getpid))
        finally:
            off.close(wait=False)
        return seen

    assert len(asyncio.run(run())) == 2  # two tasks per pool of one worker
