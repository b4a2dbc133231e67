"""Fail-over between `watcher run` processes on one PostgreSQL, with real processes, a loopback
feed server with latency and a webhook receiver: a process SIGKILLed mid-poll has its feeds
polled by another and their stories alerted once; a process paused past its lease (SIGSTOP)
and resumed stores nothing of its stale poll; a 20 s database outage loses nothing. Leases are
short here (3-4 s) so the tests stay quick; the default is 20 s."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FeedServer, Receiver, query, run_watcher, start_daemon
from watcher.store import FeedUpdate, Store, feed_state, sync_feeds
from watcher.store.feeds import claim_due_feeds
from watcher.store.stories import ClaimLost, PollToSave, save_polls

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_poll_whose_claim_was_taken_over_is_not_stored(database_url: str) -> None:
    from watcher.config import FeedConfig

    store = Store(database_url)
    store.create_schema()
    sync_feeds(store, [FeedConfig(name="f", url="https://example.org/f.xml")], T0, 60.0)
    [(_, stale)] = claim_due_feeds(store, "a:1:x", T0, ["f"], 5.0)
    assert claim_due_feeds(store, "b:2:y", T0 + timedelta(seconds=3), ["f"], 5.0) == []
    [(_, fresh)] = claim_due_feeds(store, "b:2:y", T0 + timedelta(seconds=6), ["f"], 5.0)

    def poll(at: float, token: str) -> PollToSave:
        when = T0 + timedelta(seconds=at)
        update = FeedUpdate(when, when + timedelta(minutes=5), 200, None, new_stories=2)
        return PollToSave("f", update, claim=token)

    assert save_polls(store, [poll(8, fresh)]) == [None]
    [lost] = save_polls(store, [poll(9, stale)])  # the paused process resumes
    row = feed_state(store, "f")
    store.close()
    assert isinstance(lost, ClaimLost)
    assert row is not None and row.lease_owner is None and row.last_polled_at is not None
    assert row.last_polled_at.replace(tzinfo=UTC) == T0 + timedelta(seconds=8)


def rss(server: FeedServer, path: str, ids: list[int], delay: float = 0.0) -> str:
    items = "".join(
        f"<item><title>Karabakh bulletin {i:04d}</title><link>{server.url(f'/s/{i}')}</link>"
        f"<guid>s-{i}</guid><description>Karabakh bulletin number {i}.</description></item>"
        for i in reversed(ids[-50:])
    )
    url = server.add(
        path,
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
        "application/rss+xml",
    )
    server.routes[path].delay = delay
    return url


def config(tmp_path: Path, db: str, feeds: dict[str, str], hook: str, polling: str) -> Path:
    listed = "\n".join(f'  - {{name: {n}, url: "{u}", extract: false}}' for n, u in feeds.items())
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"""
database: {{url: "{db}", auto_upgrade: false}}
polling: {{allow_private_addresses: true, workers: 1, {polling}}}
feeds:
{listed}
notifiers:
  hook: ["{hook}"]
rules:
  - {{name: bulletin, any: [Karabakh], notify: [hook]}}
""",
        encoding="utf-8",
    )
    return cfg


def stop_all(procs: list[subprocess.Popen[bytes]]) -> list[int | None]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return [p.returncode for p in procs]


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def holders(url: str) -> dict[str, int]:
    """Feed name -> pid of the process holding its claim."""
    rows = query(url, "SELECT name, lease_owner FROM feeds WHERE lease_owner IS NOT NULL")
    return {str(n): int(str(o).split("/")[0].split(":")[-2]) for n, o in rows}


def titles(receiver: Receiver) -> Counter[str]:
    return Counter(a["title"] for a in receiver.alerts)


def expected(ids: list[int]) -> set[str]:
    return {f"[bulletin] Karabakh bulletin {i:04d}" for i in ids}


def test_the_process_killed_mid_poll_has_its_feeds_taken_over_and_alerted_once(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, pg_url: str
) -> None:
    ids = {f"f{i}": [100 + 10 * i, 101 + 10 * i] for i in range(6)}
    feeds = {n: rss(feed_server, f"/{n}.xml", s, delay=3.0) for n, s in ids.items()}
    cfg = config(tmp_path, pg_url, feeds, receiver.apprise_url, "lease: 4s, timeout: 10s")
    assert run_watcher("db", "upgrade", "-c", str(cfg)).returncode == 0
    logs = [tmp_path / f"p{i}.log" for i in range(3)]
    procs = [start_daemon(cfg, log) for log in logs]
    try:
        wait_for(lambda: len(holders(pg_url)) >= 2 and feed_server.in_flight >= 2)
        held = holders(pg_url)
        pid = Counter(held.values()).most_common(1)[0][0]
        victim = next(p for p in procs if p.pid == pid)
        victims_feeds = sorted(n for n, p in held.items() if p == pid)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        killed_at = time.monotonic()
        everything = expected([i for s in ids.values() for i in s])
        wait_for(lambda: set(titles(receiver)) >= everything, 30)
        time.sleep(2)  # a second alert, if there were one, has time to arrive
    finally:
        codes = stop_all(procs)
    assert [c for p, c in zip(procs, codes, strict=True) if p is not victim] == [0, 0]
    assert set(titles(receiver)) == everything
    assert max(titles(receiver).values()) == 1, titles(receiver)
    for name in victims_feeds:  # polled again by a survivor, after the kill
        assert any(t > killed_at for t in feed_server.times[f"/{name}.xml"]), name
    stored = query(pg_url, "SELECT count(*), count(DISTINCT key) FROM stories")
    assert stored == [(12, 12)]


def test_a_paused_process_resumed_after_its_claims_were_taken_stores_nothing_twice(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, pg_url: str
) -> None:
    ids = [1, 2, 3]
    feeds = {"wire": rss(feed_server, "/wire.xml", ids, delay=4.0)}
    cfg = config(tmp_path, pg_url, feeds, receiver.apprise_url, "lease: 3s, timeout: 30s")
    assert run_watcher("db", "upgrade", "-c", str(cfg)).returncode == 0
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    a = start_daemon(cfg, logs[0])
    procs = [a]
    try:
        wait_for(lambda: holders(pg_url).get("wire") == a.pid and feed_server.in_flight == 1)
        a.send_signal(signal.SIGSTOP)
        procs.append(start_daemon(cfg, logs[1]))
        wait_for(lambda: set(titles(receiver)) == expected(ids))  # b took over and alerted
        assert feed_server.hits["/wire.xml"] == 2
        a.send_signal(signal.SIGCONT)
        wait_for(lambda: "status=claim lost" in logs[0].read_text())
        time.sleep(1)
    finally:
        codes = stop_all(procs)
    assert codes == [0, 0]
    assert titles(receiver) == Counter(expected(ids))
    rows = query(pg_url, "SELECT stories_seen, lease_owner FROM feeds")
    assert rows == [(3, None)]  # not 6: the resumed poll did not count its stories again
    assert query(pg_url, "SELECT count(*) FROM stories") == [(3,)]


class Outage:
    """A TCP proxy in front of PostgreSQL that can drop every connection and refuse new ones
    for a while: the database, as the daemons see it, stops and comes back."""

    def __init__(self, port: int) -> None:
        self.upstream = ("127.0.0.1", port)
        self.down = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open.update((client, server))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with self.lock:
                self.open.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def cut(self) -> None:
        self.down.set()
        with self.lock:
            dropped = list(self.open)
        for sock in dropped:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.down.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def outage(pg_url: str) -> Iterator[tuple[Outage, str]]:
    port = int(pg_url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    proxy = Outage(port)
    yield proxy, pg_url.replace(f":{port}/", f":{proxy.port}/")
    proxy.close()


def test_a_20s_database_outage_loses_nothing(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, outage: tuple[Outage, str]
) -> None:
    proxy, via_proxy = outage
    stories: dict[str, list[int]] = {f"f{i}": [] for i in range(3)}
    feeds = {n: rss(feed_server, f"/{n}.xml", []) for n in stories}
    feeds_cfg = {n: u for n, u in feeds.items()}
    cfg = config(
        tmp_path,
        via_proxy,
        feeds_cfg,
        receiver.apprise_url,
        "lease: 4s, timeout: 5s, interval: 1s, min_interval: 1s",
    )
    assert run_watcher("db", "upgrade", "-c", str(cfg)).returncode == 0
    logs = [tmp_path / f"p{i}.log" for i in range(2)]
    procs = [start_daemon(cfg, log) for log in logs]
    published: list[int] = []
    stop = threading.Event()

    def publisher() -> None:
        n = 0
        while not stop.is_set():
            name = f"f{n % 3}"
            stories[name].append(n)
            rss(feed_server, f"/{name}.xml", stories[name])
            published.append(n)
            n += 1
            time.sleep(0.5)

    thread = threading.Thread(target=publisher, daemon=True)
    try:
        wait_for(lambda: all("watching" in log.read_text() for log in logs))
        thread.start()
        wait_for(lambda: len(receiver.alerts) >= 3)
        proxy.cut()
        time.sleep(20)
        proxy.restore()
        time.sleep(6)
        stop.set()
        thread.join()
        wait_for(lambda: set(titles(receiver)) >= expected(published), 90)
        time.sleep(2)
    finally:
        stop.set()
        codes = stop_all(procs)
    assert codes == [0, 0]
    seen = titles(receiver)
    lost = expected(published) - set(seen)
    doubled = sum(n - 1 for n in seen.values())
    print(f"\n20 s outage: {len(published)} published, {len(lost)} lost, {doubled} doubled")
    assert not lost
    # only a send that finished while its mark could not be written can go twice
    assert doubled <= len(procs)
