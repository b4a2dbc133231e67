"""Benchmark: what the real daemon (`python -m watcher run`) spends on polls that bring nothing
new, while idle, and in memory, at a given number of feeds.

    PYTHONPATH=. python benchmarks/bench_poll_cost.py [--feeds 500] [--mode 304|same|touched]
        [--cycles 5] [--items 10] [--rules 1000] [--idle 60] [--src CHECKOUT] [--json]

A separate process serves --feeds RSS feeds from one aiohttp server on 0.0.0.0, each feed on
its own host 127.0.x.y (as real feeds are spread over hosts, so per_host and host_gap keep
their defaults). Modes:

- `304`: every feed answers a conditional request with 304 (ETag);
- `same`: no validators, the same body every time (watcher hashes it: an unchanged 200);
- `touched`: the body changes on every request (lastBuildDate) but its items do not: the
  changed feed's own share (fetch, parse, identity look-ups, state) with no story to store.

The daemon runs from --src (default: this checkout) on a fresh SQLite database with --rules
rules. For `304` and `same` the feeds' state is seeded as if a first poll had been made (ETag,
body hash), so every poll measured is a 304 or an unchanged 200; for `touched` the first cycle
stores the stories and is not measured. Feeds are pinned to an hour's interval; each measured
cycle makes every feed due at once (an UPDATE of next_poll_at in the database), waits for the
server to have answered all of them and for the daemon to go quiet again, and charges the CPU
of the daemon's process tree (daemon, fork server, workers, resource tracker, from /proc) over
that span, less the idle rate times its length. The idle rate is measured over --idle seconds
with no feed due, after start-up. PSS is summed over the tree from /proc/PID/smaps_rollup at
the end (it counts pages shared with other processes on the machine at their share, so it
moves with what else runs). Figures are medians over the cycles. `--profile FILE` records the
cycles with py-spy (collapsed stacks, workers included); the sampling inflates the figures.
`--trace FILE` runs the daemon under tracemalloc (benchmarks/memtrace.py) and appends its top
allocation sites after the cycles to FILE; tracing inflates CPU, and RSS by its own tables.

Measured on the 2-core machine of issue 18 (under heavy load from other work; old = db3a9c0):
CPU per 304 at 500 feeds 2.53 -> 1.54 ms, at 5,000 2.64 -> 1.16 ms, at 10,000 4.16 -> 2.07
ms; unchanged 200 at 500 2.28 -> 1.44 ms; idle at 10,000 feeds 4.1% -> 0.8% of a core.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing as mp
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")
PAST = "2000-01-01 00:00:00.000000"

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


def host(i: int) -> str:
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


def feed_body(i: int, items: int, build: int = 0) -> bytes:
    rng = random.Random(i)
    parts = []
    for j in range(items):
        title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize()
        text = " ".join(rng.choice(WORDS) for _ in range(40)).capitalize()
        parts.append(
            f"<item><title>{title}</title><link>http://example.org/{i}/{j}</link>"
            f"<guid isPermaLink='false'>f{i}-s{j}</guid>"
            f"<pubDate>Sat, 28 Nov 2026 {6 + j % 12:02d}:{i % 60:02d}:00 GMT</pubDate>"
            f"<description>{text}.</description></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Feed {i}</title><link>http://example.org/{i}/</link><description>wire"
        f"</description><lastBuildDate>{build}</lastBuildDate>{''.join(parts)}</channel></rss>"
    ).encode()


def serve(n: int, items: int, mode: str, port_out: Any) -> None:
    from aiohttp import web

    bodies = {str(i): feed_body(i, items) for i in range(n)}
    counts: dict[str, int] = {}
    build = [0]

    async def handle(request: web.Request) -> web.StreamResponse:
        i = request.match_info["i"]
        etag = f'"v1-{i}"'
        if mode == "304" and request.headers.get("If-None-Match") == etag:
            counts["304"] = counts.get("304", 0) + 1
            return web.Response(status=304, headers={"ETag": etag})
        counts["200"] = counts.get("200", 0) + 1
        if mode == "touched":
            build[0] += 1
            body = feed_body(int(i), items, build[0])
        else:
            body = bodies[i]
        headers = {"ETag": etag} if mode == "304" else {}
        return web.Response(body=body, content_type="application/rss+xml", headers=headers)

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(counts)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{i}", handle)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "0.0.0.0", 0, backlog=4096)
        await site.start()
        port_out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def served(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as r:
        return sum(json.load(r).values())


def config_text(tmp: Path, port: int, n: int, rules: int) -> str:
    rng = random.Random(7)
    feeds = "\n".join(
        f'  - {{name: f{i}, url: "http://{host(i)}:{port}/feed/{i}", interval: 1h, extract: false}}'
        for i in range(n)
    )
    rule_lines = "\n".join(
        f"  - {{name: r{k}, query: '{rng.choice(WORDS)} AND {rng.choice(WORDS)}z{k}'}}"
        for k in range(rules)
    )
    return (
        f"database: sqlite:///{tmp / 'bench.db'}\n"
        "http: {enabled: true, listen: '127.0.0.1:0'}\n"
        "polling: {allow_private_addresses: true, timeout: 30s}\n"
        f"feeds:\n{feeds}\n" + (f"rules:\n{rule_lines}\n" if rules else "")
    )


def seed(config_path: str, mode: str, items: int) -> None:
    """Run with the checkout under test on the path: the schema and the feeds' rows as a first
    poll would have left them, all due an hour from now."""
    from datetime import UTC, datetime, timedelta

    from watcher.cli.common import open_store
    from watcher.config import load_config
    from watcher.store import sync_feeds

    config = load_config(config_path)
    now = datetime.now(UTC)
    with open_store(config) as store:
        sync_feeds(store, config.feeds, now, config.polling.interval)
    db = sqlite3.connect(config.database.removeprefix("sqlite:///"))
    later = (now + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    if mode == "touched":
        db.execute("UPDATE feeds SET next_poll_at = ?", (PAST,))  # the first cycle stores
    else:
        db.executemany(
            "UPDATE feeds SET etag = ?, body_hash = ?, last_success_at = ?, last_polled_at = ?, "
            "last_status = ?, next_poll_at = ? WHERE name = ?",
            [
                (
                    f'"v1-{i}"' if mode == "304" else None,
                    hashlib.sha256(feed_body(i, items)).hexdigest(),
                    stamp,
                    stamp,
                    200,
                    later,
                    f"f{i}",
                )
                for i in range(len(config.feeds))
            ],
        )
    db.commit()
    db.close()


def tree(root: int) -> list[int]:
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
    return found


def cpu(root: int) -> float:
    """CPU seconds of the daemon's process tree: each live process's own, and that of its
    children that have exited and been reaped (workers are replaced after so many tasks; the
    fork server reaps them), so a worker's CPU does not vanish with it."""
    total = 0.0
    for pid in tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
    return total


def memory(root: int) -> dict[str, float]:
    pss = rss = 0
    pids = tree(root)
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
    return {"pss_mb": pss / 1024, "rss_mb": rss / 1024, "processes": len(pids)}


def quiet(root: int, idle_rate: float, step: float = 1.0, limit: float = 600) -> None:
    """Wait until the tree's CPU over `step` is near its idle rate (the cycle's writes are done)."""
    deadline = time.monotonic() + limit
    last = cpu(root)
    while time.monotonic() < deadline:
        time.sleep(step)
        now = cpu(root)
        if now - last <= max(idle_rate * step * 3, 0.02):
            return
        last = now


def wait_served(port: int, target: int, proc: subprocess.Popen[bytes], limit: float) -> None:
    deadline = time.monotonic() + limit
    while served(port) < target:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"only {served(port)} of {target} polls answered in {limit:g}s")
        time.sleep(0.2)


T0 = time.monotonic()


def note(what: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {what}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    port_in, port_out = mp.Pipe()
    server = mp.Process(target=serve, args=(args.feeds, args.items, args.mode, port_out))
    server.start()
    port = port_in.recv()
    tmp = Path(tempfile.mkdtemp(prefix="bench-poll-"))
    cfg = tmp / "bench.yaml"
    cfg.write_text(config_text(tmp, port, args.feeds, args.rules), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": args.src}
    subprocess.run(
        [sys.executable, __file__, "_seed", str(cfg), args.mode, str(args.items)],
        env=env,
        check=True,
    )
    note("seeded")
    log = open(tmp / "daemon.log", "wb")  # noqa: SIM115
    started = time.monotonic()
    command = [sys.executable, "-m", "watcher", "run", "-c", str(cfg)]
    if args.trace:
        command[1:3] = [str(HERE / "memtrace.py"), "--top", "40", "--out", args.trace, "--"]
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    db = sqlite3.connect(tmp / "bench.db", timeout=60)
    out: dict[str, Any] = {"mode": args.mode, "feeds": args.feeds, "items": args.items}
    try:
        if args.mode == "touched":
            wait_served(port, args.feeds, proc, 900)
        time.sleep(3)
        quiet(proc.pid, 0.02, step=2.0)  # start-up is over below 6% of a core
        note("started")
        out["startup_cpu"] = cpu(proc.pid)
        out["startup_wall"] = time.monotonic() - started
        c0, t0 = cpu(proc.pid), time.monotonic()
        time.sleep(args.idle)
        idle = (cpu(proc.pid) - c0) / (time.monotonic() - t0)
        out["idle_pct"] = idle * 100
        note(f"idle {idle * 100:.2f}%")
        per_poll = []
        spy = None
        if args.profile:  # py-spy samples the measured cycles (it costs CPU: figures inflate)
            spy = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "-p",
                    str(proc.pid),
                    "-f",
                    "raw",
                    "-o",
                    args.profile,
                    "-r",
                    "200",
                    "--nonblocking",
                    "--subprocesses",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        for _ in range(args.cycles):
            before = served(port)
            c0, t0 = cpu(proc.pid), time.monotonic()
            db.execute("UPDATE feeds SET next_poll_at = ?", (PAST,))
            db.commit()
            wait_served(port, before + args.feeds, proc, 900)
            quiet(proc.pid, idle)
            spent = cpu(proc.pid) - c0 - idle * (time.monotonic() - t0)
            per_poll.append(spent * 1000 / (served(port) - before))
            note(f"cycle {per_poll[-1]:.3f} ms/poll")
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        out["ms_per_poll"] = statistics.median(per_poll)
        out["ms_per_poll_all"] = [round(x, 3) for x in per_poll]
        out.update(memory(proc.pid))
        if args.trace:  # after the figures above: tracemalloc's own tables inflate RSS
            trace = Path(args.trace)
            size = trace.stat().st_size if trace.exists() else 0
            proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 120  # a snapshot of a large heap takes a while
            while time.monotonic() < deadline:
                time.sleep(1)
                if trace.exists() and trace.stat().st_size > size:
                    break
        statuses = db.execute(
            "SELECT last_status, count(*) FROM feeds GROUP BY last_status"
        ).fetchall()
        out["statuses"] = {str(s): c for s, c in statuses}
        out["errors"] = db.execute(
            "SELECT count(*) FROM feeds WHERE last_error IS NOT NULL"
        ).fetchone()[0]
    finally:
        db.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.kill()
        server.join()
        log.close()
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_seed":
        seed(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--mode", choices=("304", "same", "touched"), default="304")
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measured")
    parser.add_argument("--src", default=str(HERE.parent), help="checkout the daemon runs from")
    parser.add_argument("--json", action="store_true", help="one JSON line instead of text")
    parser.add_argument("--profile", help="py-spy's collapsed stacks of the cycles to this file")
    parser.add_argument(
        "--trace", help="run the daemon under tracemalloc (memtrace.py): its top sites to FILE"
    )
    args = parser.parse_args()
    socket.setdefaulttimeout(30)
    out = run(args)
    if args.json:
        print(json.dumps(out))
        return
    label = {"304": "304 poll", "same": "unchanged 200", "touched": "changed feed, no new story"}
    print(
        f"{args.feeds} feeds x {args.items} items, {args.rules} rules, {args.src}: "
        f"CPU per {label[args.mode]} {out['ms_per_poll']:.3f} ms (cycles {out['ms_per_poll_all']})"
        f"; idle {out['idle_pct']:.2f}% of a core; PSS {out['pss_mb']:.0f} MB "
        f"(RSS {out['rss_mb']:.0f} MB, {out['processes']} processes); start-up "
        f"{out['startup_cpu']:.1f} s CPU; statuses {out['statuses']}, errors {out['errors']}"
    )


if __name__ == "__main__":
    main()
