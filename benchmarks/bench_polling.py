"""Benchmark: watcher's poller against the naive feedparser loop, on 1,000 loopback feeds.

    PYTHONPATH=. python benchmarks/bench_polling.py [--feeds 1000] [--latency 0.05] [--naive 100]
        [--workers auto|0|N]

A separate process serves N RSS feeds (20 items each, distinct per feed, with an ETag that a
conditional request matches) from one aiohttp.web server on 127.0.0.1, every answer delayed
by --latency seconds. Then, each in its own process so peak RSS is its own:

- watcher: the real machinery (one Fetcher, pipeline.poll_feed per feed, worker processes as
  polling.workers says, a temporary SQLite store, extract off, one rule) polls every feed once
  (first cycle: 200s; 20,000 stories parsed, fingerprinted, matched and stored),
  then again (second cycle: every feed answers 304). All feeds are on one host, so the
  benchmark sets per_host = concurrency = 100 and host_gap = 0 (a real deployment spreads
  over many hosts; the defaults are per_host 2 and host_gap 250ms per host).
- naive: `for url in urls: feedparser.parse(url)`, the loop a user would write, over the
  first --naive feeds, extrapolated linearly to N (it is sequential, so linear is fair).

CPU is that of the polling process (all its threads) and of its worker processes
(polling.workers, read from /proc), over the cycle; peak RSS is given for both.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.procs import cpu_seconds, family

WORDS = [
    "officials",
    "ministers",
    "delegation",
    "border",
    "commission",
    "trade",
    "talks",
    "agreement",
    "summit",
    "envoy",
    "parliament",
    "election",
    "budget",
    "energy",
    "pipeline",
    "railway",
    "corridor",
    "harvest",
    "drought",
    "earthquake",
    "court",
    "verdict",
    "protest",
    "strike",
    "airline",
    "airport",
    "festival",
    "museum",
    "football",
    "league",
    "coach",
    "bank",
    "inflation",
    "currency",
    "reserves",
    "exports",
    "imports",
    "tariff",
    "investment",
    "refinery",
    "oil",
    "gas",
    "ceasefire",
    "shelling",
    "village",
    "mayor",
    "governor",
    "minister",
    "president",
    "premier",
    "opposition",
    "party",
    "vaccine",
    "hospital",
    "school",
    "university",
    "students",
    "teachers",
    "weather",
    "storm",
    "flood",
    "bridge",
    "road",
]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def feed_body(i: int) -> bytes:
    """20 items of distinct text (agencies' stories differ; identical templated items would be
    clustered as one story and say nothing about polling)."""
    base = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    rng = random.Random(i)
    items = []
    for j in range(20):
        when = (base - timedelta(minutes=7 * j + i % 60)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        items.append(
            f"<item><title>{_sentence(rng, 8).capitalize()}</title>"
            f"<link>http://example.org/{i}/{j}</link>"
            f"<guid isPermaLink='false'>f{i}-s{j}</guid><pubDate>{when}</pubDate>"
            f"<description>{_sentence(rng, 40).capitalize()}.</description></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Feed {i}</title><link>http://example.org/{i}/</link><description>wire"
        f"</description>{''.join(items)}</channel></rss>"
    ).encode()


def serve(n: int, latency: float, port_out: Any, stop: Any) -> None:
    from aiohttp import web

    bodies = {str(i): feed_body(i) for i in range(n)}

    async def handle(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(latency)
        i = request.match_info["i"]
        etag = f'"v1-{i}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=bodies[i], content_type="application/rss+xml", headers={"ETag": etag}
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        port_out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await runner.cleanup()

    asyncio.run(main())


def run_watcher(urls: list[str], workers: str, out: Any) -> None:
    try:
        out.send(watcher_cycles(urls, workers))
    except Exception as exc:  # the parent must hear of it, not wait forever
        out.send({"error": f"{type(exc).__name__}: {exc}"[:2000]})


def children_cpu() -> float:
    """CPU seconds of this process's live descendants (the workers parse and match, so their
    CPU is the poll's CPU too). Read after the cycle's own figures: scanning /proc is not free,
    and the workers are idle by then."""
    return cpu_seconds(list(family(os.getpid())))


def descendants_peak_rss_kb() -> int:
    total = 0
    for pid in family(os.getpid()):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmHWM"))
    return total


def watcher_cycles(urls: list[str], workers: str) -> dict[str, Any]:
    from watcher.config import parse_config
    from watcher.ingest.fetch import Fetcher
    from watcher.ingest.workers import WorkerPool
    from watcher.pipeline import Context, fetch_limits, poll_feed
    from watcher.rules import RuleSet
    from watcher.store import Store, sync_feeds

    tmp = Path(tempfile.mkdtemp())
    feeds = "\n".join(f'  - {{name: f{i}, url: "{u}", extract: false}}' for i, u in enumerate(urls))
    text = (
        f"database: sqlite:///{tmp / 'bench.db'}\n"
        "polling: {timeout: 30s, concurrency: 100, per_host: 100, host_gap: 0s, "
        f"allow_private_addresses: true, workers: {workers}}}\n"
        f"feeds:\n{feeds}\n"
        "rules:\n  - {name: border, query: 'border AND commission NOT football'}\n"
    )
    config = parse_config(str(tmp / "bench.yaml"), text, {})
    store = Store(config.database)
    store.create_schema()
    rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
    sync_feeds(store, config.feeds, datetime.now(UTC), config.polling.interval)
    pool = WorkerPool.for_config(config, rules)
    results: list[dict[str, Any]] = []
    rss: dict[str, int] = {}

    async def cycles() -> None:
        async with Fetcher(fetch_limits(config)) as fetcher:
            ctx = Context(
                config=config,
                store=store,
                fetcher=fetcher,
                rules=rules,
                clock=lambda: datetime.now(UTC),
                pool=pool,
            )
            for _ in range(2):
                children = children_cpu()
                wall, own = time.perf_counter(), time.process_time()
                reports = await asyncio.gather(*(poll_feed(ctx, f) for f in config.feeds))
                wall, own = time.perf_counter() - wall, time.process_time() - own
                results.append(
                    {
                        "wall": wall,
                        "cpu": own + children_cpu() - children,
                        "own_cpu": own,
                        "statuses": sorted({r.status for r in reports}),
                        "errors": sum(1 for r in reports if r.error),
                        "new": sum(r.new for r in reports),
                    }
                )
        rss["workers"] = descendants_peak_rss_kb()

    import logging

    logging.getLogger("watcher").setLevel(logging.WARNING)
    asyncio.run(cycles())
    pool.close()
    store.close()
    return {
        "cycles": results,
        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "workers_rss_kb": rss["workers"],
    }


def run_naive(urls: list[str], out: Any) -> None:
    import feedparser

    wall, cpu = time.perf_counter(), time.process_time()
    entries = 0
    for url in urls:
        entries += len(feedparser.parse(url).entries)
    out.send(
        {
            "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu,
            "entries": entries,
            "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    )


def in_process(target: Any, *args: Any) -> Any:
    parent, child = mp.Pipe()
    proc = mp.Process(target=target, args=(*args, child))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--naive", type=int, default=100, help="feeds the naive loop polls")
    parser.add_argument(
        "--workers", default="auto", help="polling.workers for watcher (auto, 0 = threads, N)"
    )
    args = parser.parse_args()

    port_in, port_out = mp.Pipe()
    stop = mp.Event()
    server = mp.Process(target=serve, args=(args.feeds, args.latency, port_out, stop))
    server.start()
    port = port_in.recv()
    urls = [f"http://127.0.0.1:{port}/feed/{i}" for i in range(args.feeds)]
    try:
        w = in_process(run_watcher, urls, args.workers)
        naive = in_process(run_naive, urls[: args.naive])
    finally:
        stop.set()
        server.join(10)

    if "error" in w:
        sys.exit(f"watcher run failed: {w['error']}")
    n = args.feeds
    scale = n / args.naive
    first, second = w["cycles"]
    print(
        f"{n} feeds on loopback, {args.latency * 1000:.0f} ms latency per response, "
        f"20 items per feed; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"polling.workers={args.workers}"
    )
    print(f"{'':<34}{'wall s':>9}{'CPU ms/poll':>13}{'peak RSS MB':>13}")
    rss_w = w["rss_kb"] / 1024
    print(
        f"{'watcher, first cycle (200, parse)':<34}{first['wall']:>9.2f}"
        f"{first['cpu'] * 1000 / n:>13.3f}{rss_w:>13.0f}"
        f"   statuses={','.join(first['statuses'])} new={first['new']} errors={first['errors']}"
    )
    print(
        f"{'  of which the event loop process':<34}{'':>9}"
        f"{first['own_cpu'] * 1000 / n:>13.3f}{'':>13}"
        f"   workers' peak RSS, summed: {w['workers_rss_kb'] / 1024:.0f} MB"
    )
    print(
        f"{'watcher, second cycle (304)':<34}{second['wall']:>9.2f}"
        f"{second['cpu'] * 1000 / n:>13.3f}{'(same)':>13}"
        f"   statuses={','.join(second['statuses'])} errors={second['errors']}"
    )
    print(f"{'  of which the event loop process':<34}{'':>9}{second['own_cpu'] * 1000 / n:>13.3f}")
    print(
        f"{'naive feedparser loop, measured':<34}{naive['wall']:>9.2f}"
        f"{naive['cpu'] * 1000 / args.naive:>13.3f}{naive['rss_kb'] / 1024:>13.0f}"
        f"   over {args.naive} feeds, {naive['entries']} entries"
    )
    print(
        f"{'naive loop, extrapolated to ' + str(n):<34}{naive['wall'] * scale:>9.2f}"
        f"{naive['cpu'] * 1000 / args.naive:>13.3f}{'':>13}   (x{scale:g}, linear: sequential)"
    )
    print(
        f"full cycle: watcher {naive['wall'] * scale / first['wall']:.1f}x shorter than the naive "
        f"loop (goal >= 10x); second cycle {second['cpu'] * 1000 / n:.3f} ms CPU/poll "
        "(goal <= 0.5)"
    )


if __name__ == "__main__":
    main()
