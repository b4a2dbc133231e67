"""The database stops taking writes in the middle of a cycle: a full disk (a real size-limited
tmpfs, filled while a poll is in flight), a database at its size limit (SQLite's
`max_page_count`) and a read-only one (`PRAGMA query_only`). Each time the daemon, a real
`watcher run` process, logs a clear error naming the cause (and records it as the feed's error
where the database still takes that: at its size limit, a row update needs no new page), loses
nothing already stored, logs no traceback, and once the database takes writes again stores that
cycle's stories and delivers each alert to a loopback webhook once, without a restart.

The two PRAGMAs are per connection, so the daemon is started through a small wrapper that sets
them on every connection checkout from a control file the test writes: SQLAlchemy's public pool
event, nothing in watcher itself."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, FeedServer, Receiver, write_config

BEFORE, DURING = 5, 120  # stories stored before the fault, and published while it lasts

_WRAPPER = """
import os, sys
from sqlalchemy import event
from sqlalchemy.pool import Pool

control = os.environ["TEST_FAULT_CONTROL"]

@event.listens_for(Pool, "checkout")
def _fault(dbapi_conn, record, proxy):
    try:
        with open(control) as f:
            mode = f.read().strip()
    except OSError:
        mode = ""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=" + ("1" if mode == "read-only" else "0"))
    # a limit below the file's size is the file's size: it cannot grow by a page
    cur.execute("PRAGMA max_page_count=" + ("1" if mode == "full" else "1073741823"))
    cur.close()

from watcher.cli import main
sys.exit(main(sys.argv[1:]))
"""


def publish(server: FeedServer, ids: range) -> None:
    items = "".join(
        f"<item><title>Karabakh bulletin {i:04d}</title><link>{server.url(f'/s/{i}')}</link>"
        f"<guid>s-{i}</guid><description>Karabakh bulletin number {i}. "
        + "Ceasefire talks continue in the region. " * 20
        + "</description></item>"
        for i in reversed(ids)
    )
    server.add(
        "/wire.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
        "application/rss+xml",
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout:g}s: {what}")


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def daemon(cfg: Path, log: Path, control: Path | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    cmd = [sys.executable, "-m", "watcher", "run", "-c", str(cfg)]
    if control is not None:
        env["TEST_FAULT_CONTROL"] = str(control)
        cmd = [sys.executable, "-c", _WRAPPER, "run", "-c", str(cfg)]
    with log.open("ab") as err:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)


def config(tmp_path: Path, db: Path, server: FeedServer, receiver: Receiver) -> Path:
    return write_config(
        tmp_path / "w.yaml",
        database=f"sqlite:///{db}",
        polling={"interval": "1s", "min_interval": "1s", "lease": "3s", "workers": 1},
        feeds={"wire": {"url": server.url("/wire.xml"), "extract": False, "interval": "1s"}},
        notifiers={"hook": [receiver.apprise_url]},
        rules=[{"name": "bulletin", "any": ["Karabakh"], "notify": ["hook"]}],
        http={"enabled": False},
    )


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def check_recovered(db: Path, receiver: Receiver, log: Path) -> None:
    """Every story of both cycles stored once, matched, alerted once; no traceback logged."""
    everything = {f"[bulletin] Karabakh bulletin {i:04d}" for i in range(BEFORE + DURING)}
    wait_for(lambda: set(a["title"] for a in receiver.alerts) >= everything, 60, "every alert")
    time.sleep(1.0)  # a second copy of an alert, were there one, has time to arrive
    seen = Counter(a["title"] for a in receiver.alerts)
    assert set(seen) == everything and max(seen.values()) == 1, seen.most_common(3)
    n = BEFORE + DURING
    assert query(db, "SELECT count(*), count(DISTINCT key) FROM stories") == [(n, n)]
    assert query(db, "SELECT count(DISTINCT story_id) FROM matches") == [(n,)]
    assert query(db, "SELECT status, count(*) FROM deliveries GROUP BY status") == [("sent", n)]
    # polled every second, the feed is claimed again and again: released between polls
    wait_for(
        lambda: query(db, "SELECT last_error, lease_owner FROM feeds") == [(None, None)],
        10,
        "the feed healthy and its claim released between two polls",
    )
    text = log.read_text()
    assert "Traceback" not in text, text[text.index("Traceback") - 500 :][:3000]


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> None:
    """Write zeros until the filesystem has no block left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        try:
            while True:
                os.write(fd, b"\0" * 512)
        except OSError:
            pass
    finally:
        os.close(fd)


def test_a_disk_filled_mid_poll_gives_a_clear_error_and_the_cycle_is_stored_once_freed(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    with tmpfs(tmp_path / "disk", "8m") as disk:
        db = disk / "w.db"
        publish(feed_server, range(BEFORE))
        cfg = config(tmp_path, db, feed_server, receiver)
        log = tmp_path / "daemon.log"
        proc = daemon(cfg, log)
        try:
            wait_for(lambda: len(receiver.alerts) == BEFORE, 60, "the first cycle's alerts")
            publish(feed_server, range(BEFORE + DURING))
            feed_server.routes["/wire.xml"].delay = 1.5  # the next poll is in flight a while
            hits = feed_server.hits["/wire.xml"]
            wait_for(lambda: feed_server.hits["/wire.xml"] > hits, 30, "a poll in flight")
            fill(disk / "filler")
            wait_for(lambda: "stored: the database is full" in log.read_text(), 30, "the error")
            time.sleep(4)  # a few dispatch passes and the lapsed claim's retry meet it too
            assert proc.poll() is None
            stored = query(db, "SELECT count(*) FROM stories")
            assert stored == [(BEFORE,)]  # nothing lost, nothing of the failed cycle half-kept
            feed_server.routes["/wire.xml"].delay = 0.0
            (disk / "filler").unlink()
            check_recovered(db, receiver, log)
        finally:
            code = stop(proc)
        assert code == 0
        text = log.read_text()
        assert "the poll could not be stored: the database is full" in text
        # said once per job for the whole outage, not on every pass
        for job in ("dispatch failed", "could not renew claims"):
            assert text.count(f"{job}: the database is full") <= 1, job


@pytest.mark.parametrize(
    ("mode", "cause"),
    [("full", "the database is full"), ("read-only", "the database is read-only")],
)
def test_a_database_that_refuses_writes_mid_cycle_recovers_without_a_restart(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, mode: str, cause: str
) -> None:
    db = tmp_path / "w.db"
    control = tmp_path / "fault"
    publish(feed_server, range(BEFORE))
    cfg = config(tmp_path, db, feed_server, receiver)
    log = tmp_path / "daemon.log"
    proc = daemon(cfg, log, control)
    try:
        wait_for(lambda: len(receiver.alerts) == BEFORE, 60, "the first cycle's alerts")
        publish(feed_server, range(BEFORE + DURING))
        feed_server.routes["/wire.xml"].delay = 1.5  # the next poll is in flight a while
        hits = feed_server.hits["/wire.xml"]
        wait_for(lambda: feed_server.hits["/wire.xml"] > hits, 30, "a poll in flight")
        control.write_text(mode)  # from the next connection checkout on
        wait_for(lambda: f"stored: {cause}" in log.read_text(), 30, "the poll's error")
        if mode == "full":  # updating a row needs no new page: the failure itself is recorded
            wait_for(
                lambda: str(query(db, "SELECT last_error FROM feeds")[0][0]).startswith(cause),
                30,
                "the feed's recorded error",
            )
        time.sleep(3)
        assert proc.poll() is None
        assert query(db, "SELECT count(*) FROM stories") == [(BEFORE,)]
        feed_server.routes["/wire.xml"].delay = 0.0
        control.write_text("")
        check_recovered(db, receiver, log)
    finally:
        code = stop(proc)
    assert code == 0
    text = log.read_text()
    assert f"the poll could not be stored: {cause}" in text
    for job in ("dispatch failed", "delivery pass failed", "could not renew claims"):
        assert text.count(f"{job}: {cause}") <= 1, job  # once for the outage, not every pass


def test_a_read_only_database_is_a_store_error_saying_so(database_url: str) -> None:
    """Both backends: SQLite's SQLITE_READONLY and PostgreSQL's read-only transaction (25006)."""
    from sqlalchemy import event, text

    from watcher.errors import StoreError
    from watcher.store import Store

    store = Store(database_url)
    store.create_schema()
    store.engine.dispose()
    read_only = (
        "PRAGMA query_only=1"
        if store.is_sqlite
        else "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
    )

    @event.listens_for(store.engine, "connect")
    def _read_only(dbapi_conn: object, _record: object) -> None:
        cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
        cur.execute(read_only)
        cur.close()
        if not store.is_sqlite:
            dbapi_conn.commit()  # type: ignore[attr-defined]

    try:
        with (
            pytest.raises(StoreError, match=r"^the database is read-only \(") as info,
            store.write() as s,
        ):
            s.execute(text("DELETE FROM feeds"))
    finally:
        store.close()
    assert "check the permissions" in str(info.value)


def test_the_same_trouble_is_said_once_per_window_and_job() -> None:
    import logging

    from watcher.logs import Repeats

    repeats = Repeats(window=600)
    said = [
        repeats.level("dispatch", "full"),
        repeats.level("dispatch", "full"),
        repeats.level("renew", "full"),
        repeats.level("dispatch", "read-only"),
        repeats.level("dispatch", "full"),
    ]
    warn, debug = logging.WARNING, logging.DEBUG
    assert said == [warn, debug, warn, warn, warn]
    assert Repeats(window=0).level("x", "y") == Repeats(window=0).level("x", "y") == warn
