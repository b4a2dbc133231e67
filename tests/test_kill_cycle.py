"""kill -9 at seeded random moments of a busy first cycle (eight slow feeds of 40 new stories
each): twice while the feeds are fetched, parsed and stored, four times while their 320 alerts
go out; a fresh start after each, then the database and a loopback webhook checked: every story
stored once with its match, every delivery sent, every alert received. tests/test_kill.py
kills one feed's delivery alone and checks the receiver only.

The documented window (README, "Delivery is durable"): an alert is marked sent after the
webhook answered, so a kill between the answer and the mark sends that alert again on the next
start: at most one duplicate per kill, since deliveries to one target go out one at a time. A
poll is one transaction, so a kill mid-poll stores nothing of it and the next start polls the
feed again: no duplicate story, ever."""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

from tests.conftest import FeedServer, Receiver, slow_wires, start_daemon, wait_until, write_config

FEEDS, PER_FEED, KILLS = 8, 40, 6


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
            return int(conn.execute("SELECT count(*) FROM stories").fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def test_sigkill_many_times_in_a_busy_cycle_loses_no_story_match_or_alert(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    rng = random.Random(20261203)
    feeds = slow_wires(feed_server, [rng.uniform(1.5, 4.0) for _ in range(FEEDS)], PER_FEED)
    db = tmp_path / "w.db"
    cfg = write_config(
        tmp_path / "w.yaml",
        database=f"sqlite:///{db}",
        polling={"interval": "1h", "per_host": FEEDS, "host_gap": "10ms", "workers": 1},
        feeds=feeds,
        notifiers={"hook": [receiver.apprise_url]},
        rules=[{"name": "bulletin", "any": ["Karabakh"], "notify": ["hook"]}],
        http={"enabled": False},
    )
    receiver.delay = 0.005
    log = tmp_path / "daemon.log"
    total = FEEDS * PER_FEED
    kills, where = 0, []
    proc = start_daemon(cfg, log)
    try:
        for n in range(1, KILLS + 1):
            assert wait_until(lambda n=n: log.read_text().count("watching") >= n, 60)
            if n <= 2:  # fetching, parsing, storing: the feeds take 1.5-4 s to answer
                time.sleep(rng.uniform(0.5, 3.0))
            else:  # sending: after a few more alerts went out
                more = len(receiver.alerts) + rng.randint(5, 40)
                wait_until(lambda more=more: len(receiver.alerts) >= more, 30)
            where.append((stored(db), len(receiver.alerts), feed_server.in_flight))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
            proc = start_daemon(cfg, log)
        expected = {f"[bulletin] Karabakh bulletin {f}-{i:02d}" for f in range(FEEDS)
                    for i in range(PER_FEED)}  # fmt: skip
        wait_until(lambda: {a["title"] for a in receiver.alerts} >= expected, 60)
        time.sleep(1.0)  # a duplicate, were there one more, has time to arrive
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "Traceback" not in text, text[text.index("Traceback") - 300 :][:3000]
    seen = Counter(a["title"] for a in receiver.alerts)
    assert set(seen) == expected, f"lost: {sorted(expected - set(seen))[:5]}"
    duplicates = sum(n - 1 for n in seen.values())
    with sqlite3.connect(db) as conn:
        stories = conn.execute("SELECT count(*), count(DISTINCT key) FROM stories").fetchone()
        matches = conn.execute("SELECT count(*), count(DISTINCT story_id) FROM matches").fetchone()
        deliveries = conn.execute(
            "SELECT status, count(*) FROM deliveries GROUP BY status"
        ).fetchall()
        polled = conn.execute("SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL")
        polled_n = polled.fetchone()[0]
    print(
        f"\n{kills} kills at (stories stored, alerts received, requests in flight) {where}: "
        f"{total} stories, "
        f"0 lost, {duplicates} duplicate alert(s)"
    )
    assert stories == (total, total)
    assert matches == (total, total)
    assert deliveries == [("sent", total)]
    assert polled_n == FEEDS
    assert duplicates <= kills
