"""The process lock: one daemon per SQLite file, released however the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from watcher.errors import StoreError
from watcher.store.lock import ProcessLock

HOLD = """
import sys, time
from watcher.store.lock import ProcessLock
with ProcessLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


@contextmanager
def holder(url: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock, killed and reaped afterwards."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            yield proc
        finally:
            proc.kill()


def test_second_holder_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    with holder(url) as proc:
        with pytest.raises(StoreError) as err, ProcessLock(url):
            pass
        assert f"pid {proc.pid}" in str(err.value)
        assert "use PostgreSQL to run several processes" in str(err.value)


def test_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    with holder(url) as proc:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with ProcessLock(url) as lock:  # the OS dropped the dead process's lock
        assert lock.path is not None
        assert lock.path.read_text().strip() == f"pid {os.getpid()}"


def test_released_on_exit_and_reentrant_in_sequence(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sub/w.db"
    with ProcessLock(url):
        assert (tmp_path / "sub" / "w.db.lock").exists()  # the folder is created
    with ProcessLock(url):
        pass


def test_exit_even_when_the_body_raises(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    with pytest.raises(RuntimeError), ProcessLock(url):
        raise RuntimeError("boom")
    with ProcessLock(url):
        pass


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@127.0.0.1/db"]
)
def test_no_lock_without_a_file(url: str) -> None:
    with ProcessLock(url) as a, ProcessLock(url) as b:
        assert a.path is None and b.path is None


def test_run_refuses_a_second_daemon_on_the_same_file(tmp_path: Path) -> None:
    from tests.conftest import run_watcher

    url = f"sqlite:///{tmp_path}/w.db"
    cfg = tmp_path / "w.yaml"
    cfg.write_text(f"database: {url}\n", encoding="utf-8")
    with holder(url):
        done = run_watcher("run", "--once", "-c", str(cfg), timeout=60)  # refused, not waited for
    assert done.returncode == 1
    assert "already running" in done.stderr
