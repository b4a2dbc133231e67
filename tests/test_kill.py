"""kill -9 at random moments while 200 alerts are being delivered, restart, repeat: no alert is
lost; a duplicate is possible only where a kill fell between a send and its mark."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

from tests.conftest import FeedServer, Receiver, write_config
from tests.conftest import start_daemon as start

N = 200
KILLS = 6


def test_kill_9_during_delivery_loses_nothing(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    items = "".join(
        f"<item><title>Karabakh bulletin {i:03d}</title><link>{feed_server.url(f'/s/{i}')}</link>"
        f"<guid>s-{i}</guid><description>Karabakh item {i}</description></item>"
        for i in range(N)
    )
    feed_server.add(
        "/feed.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>w</title>{items}</channel></rss>',
        "application/rss+xml",
    )
    cfg = write_config(
        tmp_path / "w.yaml",
        database=f"sqlite:///{tmp_path / 'w.db'}",
        polling={"interval": "1h"},
        feeds={"wire": {"url": feed_server.url("/feed.xml"), "extract": False}},
        notifiers={"hook": [receiver.apprise_url]},
        rules=[{"name": "karabakh", "any": ["Karabakh"], "notify": ["hook"]}],
    )
    receiver.delay = 0.01
    log = tmp_path / "daemon.log"
    rng = random.Random(20261128)
    kills = 0
    proc = start(cfg, log)
    try:
        while kills < KILLS and len(receiver.alerts) < N:
            target = len(receiver.alerts) + rng.randint(5, 40)
            deadline = time.monotonic() + 60
            while (
                len(receiver.alerts) < target
                and time.monotonic() < deadline
                and proc.poll() is None
            ):
                time.sleep(rng.uniform(0.001, 0.02))
            if len(receiver.alerts) >= N:
                break
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
            proc = start(cfg, log)
        deadline = time.monotonic() + 120
        while len({a["title"] for a in receiver.alerts}) < N and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    seen = Counter(a["title"] for a in receiver.alerts)
    expected = {f"[karabakh] Karabakh bulletin {i:03d}" for i in range(N)}
    assert set(seen) == expected, f"lost: {sorted(expected - set(seen))[:5]}"
    duplicates = sum(n - 1 for n in seen.values())
    print(f"\nkill -9 test: {kills} kills, {N} alerts, 0 lost, {duplicates} duplicate(s)")
    # At most one in-flight send per target can be interrupted per kill.
    assert duplicates <= kills
