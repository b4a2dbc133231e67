"""News burst with extraction on: poll -> alert latency of headline and body-only matches.

    python benchmarks/bench_burst.py [--tree DIR] [--feeds 200] [--items 10] [--corpus DIR]

A loopback farm of `--feeds` feeds, each on its own host (127.0.x.y), each carrying `--items`
new stories whose links point to article pages on the same host (saved news pages from
../shared/corpus/pages, cycled), and a webhook receiver that timestamps each alert. The daemon
(`watcher run` from `--tree`, default this checkout) starts against the farm, so its first
poll of every feed sees the whole burst at once. Two rules: `flash` on a word one story in ten
has in its headline, `said` on a word no headline or summary has (so it matches only with the
article's text, on the pages whose extracted text has it).

Printed: for each rule, alerts received and latency p50/p95/p99 from the moment the server
answered the feed's poll with the story to the alert's arrival; the time from the first feed
answered to the last story stored with its page's text (stories/hour from it); the CPU seconds
of the daemon's processes (daemon, fork server, workers) over the whole run, start-up included.
Run it once per tree to compare branches, e.g. `--tree /work/main` then `--tree .`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
if not CORPUS.exists():
    CORPUS = Path("/work/shared/corpus")
PORT = 18931
WORDS = [
    "council", "river", "market", "budget", "harbour", "school", "bridge", "railway", "festival",
    "museum", "court", "harvest", "airport", "library", "factory", "hospital", "stadium",
    "orchestra", "garden", "ferry", "tunnel",
]  # fmt: skip


class Farm:
    """Feeds, pages and the alert receiver, served from one thread's event loop."""

    def __init__(self, feeds: int, items: int, pages: list[bytes]) -> None:
        self.feeds, self.items, self.pages = feeds, items, pages
        self.served: dict[int, float] = {}  # feed -> first time its items were answered
        self.alerts: list[tuple[float, str]] = []  # (arrival, title)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.receiver_port = 0

    def host(self, i: int) -> str:
        return f"127.0.{1 + i // 250}.{1 + i % 250}"

    def title(self, feed: int, n: int) -> str:
        w = WORDS[(feed * 7 + n) % len(WORDS)]
        flash = " flashpoint" if (feed * self.items + n) % 10 == 0 else ""
        return f"Story {feed}-{n}: {w}{flash} update number {feed * self.items + n}"

    def page_of(self, feed: int, n: int) -> bytes:
        return self.pages[(feed * self.items + n) % len(self.pages)]

    def feed_xml(self, feed: int) -> bytes:
        base = f"http://{self.host(feed)}:{PORT}"
        items = "".join(
            f"<item><title>{self.title(feed, n)}</title><link>{base}/p/{feed}/{n}.html</link>"
            f"<guid>{feed}-{n}</guid><description>Short note {n} from desk {feed}.</description>"
            "</item>"
            for n in range(self.items)
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{feed}</title>'
            f"{items}</channel></rss>"
        ).encode()

    async def _feed(self, request: web.Request) -> web.Response:
        feed = int(request.match_info["feed"])
        self.served.setdefault(feed, time.monotonic())
        return web.Response(body=self.feed_xml(feed), content_type="application/rss+xml")

    async def _page(self, request: web.Request) -> web.Response:
        feed, n = int(request.match_info["feed"]), int(request.match_info["n"])
        return web.Response(body=self.page_of(feed, n), content_type="text/html")

    async def _alert(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.alerts.append((time.monotonic(), payload.get("title", "")))
        return web.Response()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/f/{feed}.xml", self._feed)
        app.router.add_get("/p/{feed}/{n}.html", self._page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for i in range(self.feeds):
            await web.TCPSite(runner, self.host(i), PORT).start()
        hook = web.Application()
        hook.router.add_post("/alerts", self._alert)
        hook_runner = web.AppRunner(hook, access_log=None)
        await hook_runner.setup()
        site = web.TCPSite(hook_runner, "127.0.0.1", 0)
        await site.start()
        self.receiver_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()


def corpus_pages(corpus: Path) -> list[bytes]:
    found = sorted((corpus / "pages").glob("*.html"))
    return [p.read_bytes() for p in found if not p.name.endswith(".expected.html")]


def config(tmp: Path, farm: Farm) -> Path:
    feeds = "".join(
        f'  - {{name: f{i}, url: "http://{farm.host(i)}:{PORT}/f/{i}.xml"}}\n'
        for i in range(farm.feeds)
    )
    path = tmp / "watcher.yaml"
    path.write_text(
        f"database: sqlite:///{tmp / 'w.db'}\n"
        "polling: {allow_private_addresses: true, interval: 1h}\n"
        'http: {listen: "127.0.0.1:0"}\n'
        f"feeds:\n{feeds}"
        f'notifiers:\n  hook: ["json://127.0.0.1:{farm.receiver_port}/alerts"]\n'
        "rules:\n"
        "  - {name: flash, any: [flashpoint], notify: [hook]}\n"
        "  - {name: said, any: [said], notify: [hook]}\n",
        encoding="utf-8",
    )
    return path


def stored_with_text(db: Path) -> int:
    """Stories whose article text is settled (not waiting for their page)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            (n,) = conn.execute(
                "SELECT COUNT(*) FROM stories WHERE body_source != 'pending'"
            ).fetchone()
            return int(n)
    except sqlite3.Error:
        return 0


def tree_cpu(root: int) -> float:
    """CPU seconds of process `root` and its live descendants (the fork server and workers),
    with what their exited children used (recycled workers), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [root], [root]
    while frontier:
        pid = frontier.pop()
        kids = [c for c, p in parents.items() if p == pid]
        found += kids
        frontier += kids
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in found:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / tick  # utime, stime, cutime, cstime
    return total


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=ROOT, help="the watcher checkout to run")
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=10)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()
    total = args.feeds * args.items
    farm = Farm(args.feeds, args.items, corpus_pages(args.corpus))
    threading.Thread(target=farm.run, daemon=True).start()
    farm.ready.wait()
    title_of = {farm.title(f, n): (f, n) for f in range(args.feeds) for n in range(args.items)}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        cfg = config(tmp, farm)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
        env["PYTHONPATH"] = str(args.tree.resolve())
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "-c", str(cfg), "--log-level", "WARNING"],
            cwd=args.tree,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / "daemon.log").open("wb"),
        )
        done_at = None
        try:
            while time.monotonic() - started < args.timeout:
                if stored_with_text(tmp / "w.db") >= total:
                    done_at = time.monotonic()
                    break
                time.sleep(0.2)
            quiet = time.monotonic()
            while time.monotonic() - quiet < 3.0:  # the last alerts in flight
                n = len(farm.alerts)
                time.sleep(0.5)
                if len(farm.alerts) != n:
                    quiet = time.monotonic()
            cpu = tree_cpu(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        log_tail = (tmp / "daemon.log").read_text(errors="replace")[-2000:]
    latencies: dict[str, list[float]] = {"flash": [], "said": []}
    first: dict[tuple[str, tuple[int, int]], float] = {}
    for arrived, title in farm.alerts:
        m = re.match(r"\[([^\]]*)\] (.*)", title)
        if not m or m.group(2) not in title_of:
            continue
        key = title_of[m.group(2)]
        for rule in m.group(1).split(", "):
            first.setdefault((rule, key), arrived)
    for (rule, (feed, n)), arrived in first.items():
        if rule == "said" and ("flash", (feed, n)) in first:
            continue  # body-only: stories whose headline matched nothing
        if rule in latencies and feed in farm.served:
            latencies[rule].append(arrived - farm.served[feed])
    print(f"tree: {args.tree.resolve()}")
    print(
        f"burst: {total} stories over {args.feeds} feeds (one host each), "
        f"{len(farm.pages)} corpus pages, extraction on"
    )
    for rule, what in (("flash", "headline match"), ("said", "body match")):
        v = latencies[rule]
        print(
            f"  {what:<15} ({rule}): {len(v)} alerted; poll->alert p50 {pct(v, 0.5):.2f} s, "
            f"p95 {pct(v, 0.95):.2f} s, p99 {pct(v, 0.99):.2f} s, max {max(v, default=0):.2f} s"
            + (f", mean {statistics.mean(v):.2f} s" if v else "")
        )
    if done_at is None or not farm.served:
        print(f"  NOT DONE within {args.timeout:g}s; daemon log tail:\n{log_tail}")
        return
    span = done_at - min(farm.served.values())
    print(
        f"  first feed answered -> last story stored with its page: {span:.1f} s "
        f"({total / span:.1f} stories/s, {total / span * 3600:,.0f} stories/hour)"
    )
    print(f"  CPU of the daemon's processes, start-up to last alert: {cpu:.1f} s")
    print(f"  alerts received: {len(farm.alerts)}")


if __name__ == "__main__":
    main()
