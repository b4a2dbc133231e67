"""The real PostgreSQL server stopped for a few seconds and started again under a running
`watcher run`, in the middle of a busy first cycle (six slow feeds of 25 new stories each,
some stored and alerting, some still being fetched): the daemon rides it out and afterwards
every story is stored once with its match and every alert has reached the webhook.

tests/test_failover.py cuts the connections with a proxy; this one takes the server itself
down, so the daemon sees what a `systemctl restart postgresql` does: the server ending every
session, then refusing connections. It runs in the PostgreSQL pass only and needs root and
pg_ctlcluster; the server is started again, and waited for, whatever happens.

The documented window (README, "Delivery is durable"): an alert is marked sent after the
webhook answered, so a send that finished while its mark could not be written goes again;
deliveries to one target go one at a time, so the outage can cost one duplicate at most."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import (
    BACKEND,
    FeedServer,
    Receiver,
    query,
    slow_wires,
    start_daemon,
    wait_until,
    write_config,
)
from watcher.errors import StoreError
from watcher.store import Store

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(
        BACKEND != "postgresql", reason="restarts the PostgreSQL server: PG pass only"
    ),
]

FEEDS, PER_FEED, DOWNTIME = 6, 25, 3.0


def _cluster() -> list[str]:
    """pg_ctlcluster's version and cluster name for the server the tests use."""
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    return [versions[-1], "main"] if versions else []


def _ctl(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *_cluster(), action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _ready() -> bool:
    done = subprocess.run(
        ["pg_isready", "-h", "127.0.0.1", "-p", "5432"], capture_output=True, timeout=10
    )
    return done.returncode == 0


@pytest.fixture
def pg_server() -> Iterator[Callable[[float], None]]:
    """Stops the server for a while and starts it again; in any case it is up and accepting
    connections when the test ends, so the tests after this one are unaffected."""
    if shutil.which("pg_ctlcluster") is None or not _cluster():
        pytest.skip("pg_ctlcluster (Debian's postgresql-common) is not installed")
    if os.geteuid() != 0:
        pytest.skip("restarting the PostgreSQL server needs root")

    def outage(seconds: float) -> None:
        _ctl("stop")
        time.sleep(seconds)
        _ctl("start")

    try:
        yield outage
    finally:
        if not _ready():
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", *_cluster(), "start"],
                capture_output=True,
                timeout=60,
            )
        assert wait_until(_ready, 60), "PostgreSQL did not come back"


def test_a_read_from_a_server_that_refuses_connections_is_a_store_error() -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = Store(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
    with pytest.raises(StoreError, match="database error: connection failed"), store.read() as s:
        s.execute(text("SELECT 1"))
    store.close()


def test_a_postgresql_restart_mid_cycle_loses_no_story_match_or_alert(
    tmp_path: Path,
    feed_server: FeedServer,
    receiver: Receiver,
    database_url: str,
    pg_server: Callable[[float], None],
) -> None:
    rng = random.Random(20261203)
    # answers before, during and after the downtime
    feeds = slow_wires(
        feed_server, [0.5 + 0.5 * f + rng.uniform(0.0, 0.3) for f in range(FEEDS)], PER_FEED
    )
    cfg = write_config(
        tmp_path / "w.yaml",
        database=database_url,
        polling={
            "interval": "1h",
            "per_host": FEEDS,
            "host_gap": "10ms",
            "workers": 1,
            "lease": "4s",  # a poll whose claim could not be released is redone after it
        },
        feeds=feeds,
        notifiers={"hook": [receiver.apprise_url]},
        rules=[{"name": "bulletin", "any": ["Karabakh"], "notify": ["hook"]}],
        http={"enabled": False},
    )
    receiver.delay = 0.005
    log = tmp_path / "daemon.log"
    total = FEEDS * PER_FEED
    expected = {f"[bulletin] Karabakh bulletin {f}-{i:02d}" for f in range(FEEDS)
                for i in range(PER_FEED)}  # fmt: skip
    proc = start_daemon(cfg, log)
    try:
        assert wait_until(lambda: "watching" in log.read_text(), 30)
        # the first feeds are stored and alerting, the later ones still being fetched
        assert wait_until(lambda: len(receiver.alerts) >= 3, 30)
        at = (len(receiver.alerts), feed_server.in_flight)
        pg_server(DOWNTIME)
        assert proc.poll() is None, "the daemon exited during the restart"
        wait_until(lambda: {a["title"] for a in receiver.alerts} >= expected, 60)
        time.sleep(1.0)  # a duplicate, were there one more, has time to arrive
        assert proc.poll() is None, "the daemon exited after the restart"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "Traceback" not in text, text[text.index("Traceback") - 300 :][:3000]
    seen = Counter(a["title"] for a in receiver.alerts)
    duplicates = sum(n - 1 for n in seen.values())
    # each trouble said once (the feeds whose polls were lost, each job's first failure,
    # the alert waiting for its mark), however long the server is away
    trouble = Counter(
        line.split(" ", 3)[3]
        for line in text.splitlines()
        if " WARNING " in line or " ERROR " in line
    )
    print(
        f"\nrestart at {at[0]} alerts received, {at[1]} feed requests in flight, {DOWNTIME:g} s "
        f"down, {text.count('neither the poll nor')} poll(s) lost to it and redone: "
        f"{total} stories, {len(expected - set(seen))} lost, {duplicates} duplicate alert(s), "
        f"{sum(trouble.values())} warning/error line(s) logged"
    )
    assert max(trouble.values(), default=0) == 1, trouble.most_common(3)
    assert set(seen) == expected, f"lost: {sorted(expected - set(seen))[:5]}"
    assert duplicates <= 1
    assert query(database_url, "SELECT count(*), count(DISTINCT key) FROM stories") == [
        (total, total)
    ]
    assert query(database_url, "SELECT count(*), count(DISTINCT story_id) FROM matches") == [
        (total, total)
    ]
    assert query(database_url, "SELECT status, count(*) FROM deliveries GROUP BY status") == [
        ("sent", total)
    ]
    assert query(database_url, "SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL") == [
        (FEEDS,)
    ]
