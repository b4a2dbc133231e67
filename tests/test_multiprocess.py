"""Three `watcher run` processes share one PostgreSQL database while a feed server publishes
stories; one is killed with SIGKILL. Every story is stored once, every alert delivered once,
and no feed waits longer than its interval plus the lease of the process that died."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import ROOT, FeedServer, Receiver, run_watcher

FEEDS = 4
PUBLISH_SECONDS = 40.0
INTERVAL, LEASE, DISPATCH = 2.0, 5.0, 2.0


def publish(server: FeedServer, stories: dict[int, list[int]], n: int, feed: int) -> None:
    stories[feed].append(n)
    items = "".join(
        f"<item><title>Karabakh bulletin {i:04d}</title><link>{server.url(f'/s/{i}')}</link>"
        f"<guid>s-{i}</guid><description>Karabakh bulletin number {i} from feed {feed}.</description></item>"
        for i in reversed(stories[feed][-50:])
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{feed}</title>{items}</channel></rss>'
    server.add(f"/f{feed}.xml", body, "application/rss+xml")


def unsent(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM deliveries WHERE status <> 'sent'")
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_three_processes_one_killed(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, pg_url: str
) -> None:
    stories: dict[int, list[int]] = {f: [] for f in range(FEEDS)}
    for f in range(FEEDS):
        publish(feed_server, stories, 1000 + f, f)
    feed_server.routes["/f0.xml"].delay = 1.5  # a slow feed: often in flight when the kill comes
    feeds = "\n".join(
        f'  - {{name: f{f}, url: "{feed_server.url(f"/f{f}.xml")}", interval: 2s, extract: false}}'
        for f in range(FEEDS)
    )
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"""
database: {{url: "{pg_url}", auto_upgrade: false}}
polling: {{allow_private_addresses: true, timeout: 2s, lease: {LEASE:g}s, min_interval: 1s}}
feeds:
{feeds}
notifiers:
  hook: ["{receiver.apprise_url}"]
rules:
  - {{name: bulletin, any: [Karabakh], notify: [hook]}}
""",
        encoding="utf-8",
    )
    assert run_watcher("db", "upgrade", "-c", str(cfg)).returncode == 0

    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    logs = [tmp_path / f"p{i}.log" for i in range(3)]
    procs = []
    for log in logs:
        with log.open("w") as err:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "watcher", "run", "-c", str(cfg)],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            )
    published = [1000 + f for f in range(FEEDS)]
    stop = threading.Event()
    paused = threading.Event()

    def publisher() -> None:
        rng = random.Random(7)
        n = 0
        start = time.monotonic()
        while not stop.is_set() and time.monotonic() - start < PUBLISH_SECONDS:
            if not paused.is_set():
                publish(feed_server, stories, n, rng.randrange(FEEDS))
                published.append(n)
                n += 1
            time.sleep(0.4)

    thread = threading.Thread(target=publisher, daemon=True)
    thread.start()
    killed_at = None
    victim = -1
    polls_before = 0
    try:
        time.sleep(12)
        paused.set()  # let deliveries drain, so the kill falls on polling, not on a send
        deadline = time.monotonic() + 30
        while (
            len({a["title"] for a in receiver.alerts}) < len(published) or unsent(pg_url)
        ) and time.monotonic() < deadline:
            time.sleep(0.1)  # received is not enough: the send must be marked, too
        # Kill the busiest process: the one most likely to hold feed leases.
        victim = max(range(3), key=lambda i: logs[i].read_text().count("poll feed="))
        polls_before = logs[victim].read_text().count("poll feed=")
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(timeout=30)
        killed_at = time.monotonic()
        paused.clear()
        thread.join(PUBLISH_SECONDS + 10)
        deadline = time.monotonic() + 60
        while (
            len({a["title"] for a in receiver.alerts}) < len(published)
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
    finally:
        stop.set()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    assert [p.returncode for i, p in enumerate(procs) if i != victim] == [0, 0]

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT key, count(*) FROM stories GROUP BY key")).all()
        deliveries = conn.execute(
            text("SELECT status, count(*) FROM deliveries GROUP BY status")
        ).all()
    engine.dispose()
    # feedparser resolves a permalink-style guid against the feed URL: compare the tails.
    assert sorted(k.rsplit("/", 1)[-1] for k, _ in rows) == sorted(
        f"guid:s-{i}".rsplit("/", 1)[-1].removeprefix("guid:") for i in published
    )
    assert all(n == 1 for _, n in rows)
    assert dict(deliveries) == {"sent": len(published)}
    counts = Counter(a["title"] for a in receiver.alerts)
    assert set(counts) == {f"[bulletin] Karabakh bulletin {i:04d}" for i in published}
    assert max(counts.values()) == 1, [t for t, n in counts.items() if n > 1]
    # The process that died had been polling, and the survivors took its feeds over.
    assert polls_before > 0
    assert sum(log.read_text().count("poll feed=") for i, log in enumerate(logs) if i != victim) > 0
    # No feed waited longer than its interval plus a dead process's lease (plus the dispatch
    # period and the slow feed's own response time).
    assert killed_at is not None
    for f in range(FEEDS):
        times = feed_server.times[f"/f{f}.xml"]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) <= INTERVAL + LEASE + DISPATCH + 3.0, (f, max(gaps))
