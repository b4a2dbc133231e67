"""Parsing and preparing stories in worker processes gives what threads give, and a worker that
dies costs one call, not the daemon."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from tests.conftest import CORPUS, ROOT
from watcher.errors import WatcherError
from watcher.ingest.parse import Entry
from watcher.ingest.prepare import FeedRef, Prepared
from watcher.ingest.workers import WorkerPool
from watcher.rules import RuleSet, RuleSpec

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SPECS = [RuleSpec(name="caucasus", query="Armenia OR Azerbaijan OR Georgia OR Karabakh")]
FEEDS = sorted((CORPUS / "feeds").glob("*"))[:6] if CORPUS.exists() else []


def offload(workers: int) -> WorkerPool:
    return WorkerPool(RuleSet.compile(SPECS, {}), SPECS, {}, workers)


def summary(prepared: list[Prepared]) -> list[tuple[object, ...]]:
    """What a prepared story carries, comparable across processes (RuleMatch compares by
    identity)."""
    return [
        (p.story, p.fingerprint, [(m.rule, m.terms, m.marked_snippet()) for m in p.matches])
        for p in prepared
    ]


@pytest.mark.skipif(not FEEDS, reason="the shared corpus is not beside the checkout")
def test_workers_parse_and_prepare_exactly_as_threads_do() -> None:
    async def run(workers: int) -> list[object]:
        off = offload(workers)
        try:
            out: list[object] = []
            for path in FEEDS:
                try:
                    parsed = await off.parse(path.read_bytes(), "https://example.org/", NOW, {})
                except WatcherError as exc:  # a corpus feed that is not a feed
                    out.append(str(exc))
                    continue
                items = [(e, e.content or e.summary, "feed") for e in parsed.entries]
                out.append(parsed)
                out.append(summary(await off.prepare(FeedRef("wire"), items, NOW)))
            return out
        finally:
            off.close()

    in_threads = asyncio.run(run(0))
    in_workers = asyncio.run(run(2))
    assert in_workers == in_threads
    assert any(isinstance(x, list) and x for x in in_threads)  # something was prepared


def test_a_dead_worker_fails_one_call_and_the_next_call_works() -> None:
    entry = Entry(
        guid="1",
        link="https://example.org/1",
        title="Talks on Karabakh resume",
        summary="Delegations from Armenia and Azerbaijan met again.",
        content="",
        published_at=NOW,
    )

    async def run() -> tuple[str, list[Prepared]]:
        off = offload(1)
        try:
            with pytest.raises(WatcherError) as dead:
                await off._run("testing", os._exit, 3)  # the worker process exits at once
            again = await off.prepare(FeedRef("wire"), [(entry, entry.summary, "feed")], NOW)
            return str(dead.value), again
        finally:
            off.close()

    message, again = asyncio.run(run())
    assert "worker process died" in message
    assert [m.rule for m in again[0].matches] == ["caucasus"]


def test_a_worker_that_dies_fails_only_its_own_task() -> None:
    async def run() -> tuple[BaseException | None, BaseException | None]:
        off = offload(2)
        try:
            await off.prepare(FeedRef("wire"), [], NOW)  # nothing to do: starts no pool
            innocent = asyncio.create_task(off._run("sleeping", time.sleep, 1.5))
            await asyncio.sleep(0.3)  # the sleep is in a worker when the other one dies
            killer = asyncio.create_task(off._run("crashing", os._exit, 3))
            done = await asyncio.gather(innocent, killer, return_exceptions=True)
            return (
                done[0] if isinstance(done[0], BaseException) else None,
                done[1] if isinstance(done[1], BaseException) else None,
            )
        finally:
            off.close()

    innocent, killer = asyncio.run(run())
    assert innocent is None  # retried on a fresh pool of workers
    assert isinstance(killer, WatcherError) and "worker process died" in str(killer)


def test_workers_zero_runs_in_threads() -> None:
    off = offload(0)
    assert asyncio.run(off._executor()) is None
    off.close()


def test_an_unexpected_exception_in_a_stage_becomes_that_poll_s_error() -> None:
    async def run(workers: int) -> str:
        off = offload(workers)
        try:
            with pytest.raises(WatcherError) as err:
                await off._run("parsing", int, "not a number")
            return str(err.value)
        finally:
            off.close()

    for workers in (0, 1):
        assert asyncio.run(run(workers)).startswith("parsing failed: ValueError: invalid literal")


LAG_PROBE = """
import asyncio, time
from datetime import UTC, datetime
from watcher.ingest.workers import WorkerPool
from watcher.rules import RuleSet

async def main():
    off = WorkerPool(RuleSet.compile([], {}), [], {}, 2)
    worst, last, done = 0.0, time.monotonic(), False

    async def ticker():
        nonlocal worst, last
        while not done:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            worst, last = max(worst, now - last), now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    body = b"<rss version='2.0'><channel><title>t</title><item><title>a</title></item></channel></rss>"
    await off.parse(body, "https://example.org/", datetime.now(UTC), {})
    done = True
    await tick
    off.close()
    print(worst)

asyncio.run(main())
"""


def test_starting_the_workers_does_not_stall_the_event_loop() -> None:
    """The fork server imports the parsers and models before it forks a worker (a second or
    more); on the event loop's thread, that stall would run in-flight requests past their
    deadlines. A fresh interpreter, so the fork server really starts."""
    out = subprocess.run(
        [sys.executable, "-c", LAG_PROBE], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) < 0.3, out.stdout


def test_workers_start_with_load_and_stop_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """One worker for one task at a time; a second only while tasks wait for the first; none,
    and no fork server, once the pool has been idle (its models are most of its memory)."""
    import multiprocessing.forkserver

    from watcher.ingest import workers

    monkeypatch.setattr(workers, "IDLE_SECONDS", 0.5)
    server = multiprocessing.forkserver._forkserver  # type: ignore[attr-defined]

    async def run() -> tuple[int, int, bool, bool]:
        off = offload(2)
        try:
            for _ in range(3):
                await off._run("testing", int, "1")
            one = len(workers._pids(off._pool)) if off._pool else 0
            await asyncio.gather(*(off._run("sleeping", time.sleep, 0.6) for _ in range(4)))
            two = len(workers._pids(off._pool)) if off._pool else 0
            deadline = time.monotonic() + 30
            while off._pool is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            stopped = off._pool is None
            while server._forkserver_pid is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            return one, two, stopped, server._forkserver_pid is None
        finally:
            off.close()

    one, two, pool_stopped, server_stopped = asyncio.run(run())
    assert (one, two) == (1, 2)
    assert pool_stopped and server_stopped
