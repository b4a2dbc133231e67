"""The daemon proper (`watcher run` without --once): signals, and resuming from the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, FeedServer, Receiver
from tests.test_run_e2e import write_config


def start(cfg: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", "run", "-c", str(cfg)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_sigterm_finishes_in_flight_work_and_exits_zero(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    cfg = write_config(tmp_path, feed_server, receiver)
    feed_server.routes["/a/talks.html"].delay = 2.0  # keep wire-one's poll in flight
    proc = start(cfg)
    try:
        wait_for(lambda: feed_server.hits.get("/a/talks.html", 0) >= 1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "poll(s) in flight get" in err and "stopped" in err
    # The poll that was in flight completed, was stored, and its alert went out before exit.
    assert "[karabakh-talks] Karabakh peace talks resume in Brussels" in [
        a["title"] for a in receiver.alerts
    ]


def test_restart_resumes_poll_times_from_the_database(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    cfg = write_config(tmp_path, feed_server, receiver)
    proc = start(cfg)
    try:
        wait_for(lambda: len(receiver.alerts) == 3)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
        polls = feed_server.hits["/rss.xml"]
        proc = start(cfg)
        time.sleep(5)  # two dispatch rounds: nothing is due for 5 minutes
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert feed_server.hits["/rss.xml"] == polls == 1
    assert len(receiver.alerts) == 3


def test_second_process_on_the_same_sqlite_file_is_refused(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    cfg = write_config(tmp_path, feed_server, receiver)
    proc = start(cfg)
    try:
        wait_for(lambda: feed_server.hits.get("/rss.xml", 0) >= 1)
        second = subprocess.run(
            [sys.executable, "-m", "watcher", "run", "--once", "-c", str(cfg)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert (
            f"another watcher (pid {proc.pid}) is already running on {tmp_path / 'w.db'}"
            in second.stderr
        )
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    again = subprocess.run(
        [sys.executable, "-m", "watcher", "run", "--once", "-c", str(cfg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr  # the lock went with the process
