"""Benchmark: web UI and API response times while the daemon polls.

    PYTHONPATH=. python benchmarks/bench_web.py [--feeds 100] [--duration 60] [--publish 10]

A separate process serves --feeds RSS feeds from 127.0.x.y loopback hosts (one aiohttp site per
host, so the daemon's per-host limits see many hosts), each starting with 20 items and gaining
one more every --publish seconds (a third of them about Karabakh, which a rule matches and
sends to a webhook in the same process; every tenth feed reprints feed 0's
stories). A real `watcher run` (temporary SQLite, polling every
15 s, extraction off) polls them; once the first cycle is stored, one client requests the API
and the dashboard in turn for --duration seconds, while polls, matching and deliveries go on.

Printed: median and p95 response time per endpoint, the polls and stories during the window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = [
    "officials",
    "ministers",
    "delegation",
    "border",
    "commission",
    "trade",
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
    "refinery",
    "tariff",
    "customs",
    "investment",
    "bank",
    "currency",
    "inflation",
    "airport",
    "port",
    "shipping",
    "grain",
    "exports",
    "imports",
    "court",
]
CITIES = ["Baku", "Yerevan", "Tbilisi", "Brussels", "Ankara", "Moscow", "Tehran", "Astana"]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def feed_xml(i: int, items: int) -> bytes:
    """Distinct stories per feed; every third about Karabakh talks (the rule's matches), and
    every tenth feed also carries feed 0's stories (a wire story reprinted: clusters)."""
    parts = []
    for k in range(items - 1, -1, -1):
        source = 0 if i % 10 == 9 else i
        rng = random.Random(source * 100_003 + k)
        city = rng.choice(CITIES)
        lead = "Karabakh peace talks" if k % 3 == 0 else words(rng, 3).capitalize()
        title = f"{lead}: {words(rng, 5)} in {city}"
        text = f"{words(rng, 30)}. {city} {words(rng, 20)}."
        parts.append(
            f"<item><title>{title}</title><link>http://example.org/{source}/{k}</link>"
            f"<guid isPermaLink='false'>f{source}-{k}</guid>"
            f"<description>{text}</description></item>"
        )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
        f"<title>Feed {i}</title><link>http://example.org/{i}</link><description>x</description>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


def serve(n: int, publish: float, out: Any, stop: Any) -> None:
    from aiohttp import web

    start = time.monotonic()

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        items = 20 + int((time.monotonic() - start) / publish)
        etag = f'"{i}-{items}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=feed_xml(i, items), content_type="application/rss+xml", headers={"ETag": etag}
        )

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}", feed)
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        urls = []
        for i in range(n):
            host = f"127.0.{1 + i // 250}.{1 + i % 250}"
            site = web.TCPSite(runner, host, 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            urls.append(f"http://{host}:{port}/feed/{i}")
        hook_site = web.TCPSite(runner, "127.0.0.1", 0)
        await hook_site.start()
        hook_port = hook_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        out.send((urls, f"json://127.0.0.1:{hook_port}/hook"))
        while not stop.is_set():
            await asyncio.sleep(0.2)
        await runner.cleanup()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
    return time.perf_counter() - t0, body


def polls_done(base: str) -> float:
    text = get(base + "/metrics")[1].decode()
    return sum(float(v) for v in re.findall(r"^watcher_polls_total\{[^}]*\} (\S+)$", text, re.M))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--publish", type=float, default=10.0, help="seconds between new items")
    args = ap.parse_args()

    parent, child = mp.Pipe()
    stop = mp.Event()
    server = mp.Process(target=serve, args=(args.feeds, args.publish, child, stop), daemon=True)
    server.start()
    urls, hook = parent.recv()
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    port = free_port()
    feeds = "\n".join(
        f"  - {{name: f{i:03d}, url: '{u}', extract: false}}" for i, u in enumerate(urls)
    )
    (tmp / "watcher.yaml").write_text(
        f"""database: sqlite:///{tmp / "w.db"}
http: {{listen: '127.0.0.1:{port}'}}
polling: {{interval: 15s, min_interval: 15s, max_interval: 15s, allow_private_addresses: true}}
feeds:
{feeds}
notifiers:
  hook: ['{hook}']
rules:
  - {{name: karabakh, query: 'Karabakh AND (peace OR talks)', notify: [hook]}}
  - {{name: markets, any: [markets, shares]}}
""",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "-c", str(tmp / "watcher.yaml")],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT), "WATCHER_LOG_LEVEL": "warning"},
        stderr=open(tmp / "daemon.log", "w"),  # noqa: SIM115  (closed with the process)
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if (
                    polls_done(base) >= args.feeds
                    and json.loads(get(base + "/api/v1/matches?limit=1")[1])["items"]
                ):
                    break
            except OSError:
                pass
            time.sleep(1.0)
        else:
            raise SystemExit("the daemon did not finish its first cycle in 600 s")
        matched = json.loads(get(base + "/api/v1/matches?limit=1")[1])["items"]
        if not matched:
            errors = {f["last_error"] for f in json.loads(get(base + "/api/v1/feeds")[1])["items"]}
            raise SystemExit(f"no matches after the first cycle; feed errors: {errors}")
        story = matched[0]["story_id"]
        endpoints = {
            "GET /api/v1/matches": "/api/v1/matches?limit=50",
            "GET /api/v1/matches?rule&text": "/api/v1/matches?rule=karabakh&text=baku",
            "GET /api/v1/stories/ID": f"/api/v1/stories/{story}",
            "GET /api/v1/feeds": "/api/v1/feeds",
            "GET / (dashboard)": "/?refresh=0",
            "GET /story/ID": f"/story/{story}",
            "GET /feeds": "/feeds",
            "GET /feeds/all.atom": "/feeds/all.atom",
        }
        times: dict[str, list[float]] = {k: [] for k in endpoints}
        polls0 = polls_done(base)
        stories0 = len(json.loads(get(base + "/api/v1/stories?limit=200")[1])["items"])
        t_end = time.monotonic() + args.duration
        while time.monotonic() < t_end:
            for name, path in endpoints.items():
                times[name].append(get(base + path)[0])
        polls = polls_done(base) - polls0
        stored = json.loads(get(base + "/api/v1/feeds")[1])["items"]
        total_stories = sum(f["stories_seen"] for f in stored)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
        stop.set()
        server.join(10)

    print(
        f"{args.feeds} feeds on {len({u.split('/')[2] for u in urls})} loopback hosts, "
        f"a new item per feed every {args.publish:g}s, polled every 15s"
    )
    print(
        f"window {args.duration:g}s: {polls:.0f} polls, {total_stories} stories stored in all "
        f"(>= {stories0} before the window)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'endpoint':<32} {'n':>5} {'median ms':>10} {'p95 ms':>8}")
    for name, ts in times.items():
        ts.sort()
        p95 = ts[min(len(ts) - 1, int(len(ts) * 0.95))]
        print(f"{name:<32} {len(ts):>5} {statistics.median(ts) * 1000:>10.1f} {p95 * 1000:>8.1f}")


if __name__ == "__main__":
    main()
