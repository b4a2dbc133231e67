"""Real parts on loopback: a feed/page server, a webhook receiver, and the CLI as a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"

# The storage and pipeline tests run on SQLite, and again on PostgreSQL when
# WATCHER_TEST_BACKEND=postgresql (.ci/run does both); each test gets a fresh database.
BACKEND = os.environ.get("WATCHER_TEST_BACKEND", "sqlite")
PG_ADMIN = os.environ.get("WATCHER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:
        return False


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"watcher_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: SQLite, or PostgreSQL in the PG pass."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'w.db'}"
        return
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """The database a storage or pipeline test runs on. On PostgreSQL the schema is created
    first, as `watcher db upgrade` would (PostgreSQL does not upgrade itself by default)."""
    if not empty_database_url.startswith("sqlite"):
        from watcher.store import Store

        store = Store(empty_database_url)
        store.create_schema()
        store.close()
    return empty_database_url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, for tests that only make sense there (several processes)."""
    if not _pg_available():
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}")
    with fresh_pg_database() as url:
        yield url


@dataclass
class Route:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering, to keep a request in flight
    trickle: float = 0.0  # > 0: send the body one byte per this many seconds


class QuietHandler(BaseHTTPRequestHandler):
    """A handler for a test's own small server: answers with a whole body, logs nothing."""

    def send_body(self, body: bytes, kind: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """A threaded server on a free loopback port, already serving, and its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


class FeedServer:
    """Serves fixed routes and counts requests per path, and the peak of requests in flight.

    A route whose headers carry an ETag (or Last-Modified) answers a matching conditional
    request with 304, as a well-behaved publisher does.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.times: dict[str, list[float]] = {}  # monotonic time of each request, per path
        self.in_flight = 0
        self.peak_in_flight = 0
        self.not_modified = 0  # 304s answered
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.counted = True
                with lock:
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    self._answer()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (deadline, size cap): that is the point
                finally:
                    self._answered()

            def send_response(self, code: int, message: str | None = None) -> None:
                self._answered()
                super().send_response(code, message)

            def _answered(self) -> None:
                """A request stops counting as in flight when its answer starts: the client
                may read all of it and send its next request before this thread runs again,
                which is no excess of concurrency on the client's side."""
                if self.counted:
                    self.counted = False
                    with lock:
                        server.in_flight -= 1

            def _answer(self) -> None:
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                server.requests.append((self.path, dict(self.headers)))
                server.times.setdefault(self.path, []).append(time.monotonic())
                route = server.routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.delay:
                    time.sleep(route.delay)
                etag, modified = route.headers.get("ETag"), route.headers.get("Last-Modified")
                if (etag and self.headers.get("If-None-Match") == etag) or (
                    modified and self.headers.get("If-Modified-Since") == modified
                ):
                    server.not_modified += 1
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(route.status)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if route.trickle:
                    for i in range(len(route.body)):
                        self.wfile.write(route.body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(route.trickle)
                    return
                self.wfile.write(route.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(
        self,
        path: str,
        body: str | bytes,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
    ) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(data, status, {"Content-Type": content_type})
        return self.url(path)


class Receiver:
    """A webhook endpoint for apprise's json:// that records each alert (and can fail on demand)."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.delay = 0.0  # seconds before answering, to keep deliveries in flight
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = self.rfile.read(length)
                status = receiver.fail_with or 200
                if receiver.delay:
                    time.sleep(receiver.delay)
                if status == 200:
                    receiver.alerts.append(json.loads(payload))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def apprise_url(self) -> str:
        return f"json://127.0.0.1:{self.port}/alerts"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


def run_watcher(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI, as a user runs it."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd or ROOT,
    )


def start_daemon(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    """`watcher run` as a background process, its log appended to `log`: for tests that kill,
    pause or stop what it runs on under it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "-c", str(cfg)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    """Rows of one SQL statement, read with an engine of its own (beside a running daemon)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


def wait_for(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    """Fails the test unless `predicate` comes true within `timeout` seconds."""
    if not wait_until(predicate, timeout):
        raise AssertionError("condition not reached in time")


def wait_until(predicate: Callable[[], object], timeout: float) -> bool:
    """Whether `predicate` came true within `timeout` seconds (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def write_config(
    path: Path,
    *,
    database: str,
    feeds: dict[str, str | dict[str, Any]] | None = None,
    polling: dict[str, Any] | None = None,
    notifiers: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
    **sections: Any,
) -> Path:
    """A test's config file, dumped from plain values rather than hand-written YAML, so quoting
    and indentation cannot go wrong and a key renamed in the models is renamed in one place.
    Feeds are `{name: url}` or `{name: {url: ..., extract: false}}`; loopback feeds are allowed
    (the test servers live there)."""
    entries = [
        {"name": name, **({"url": feed} if isinstance(feed, str) else feed)}
        for name, feed in (feeds or {}).items()
    ]
    data = {
        "database": database,
        "polling": {"allow_private_addresses": True, **(polling or {})},
        "feeds": entries,
        "notifiers": notifiers,
        "rules": rules,
        **sections,
    }
    text = yaml.safe_dump(
        {k: v for k, v in data.items() if v is not None}, sort_keys=False, allow_unicode=True
    )
    path.write_text(text, encoding="utf-8")
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that take a database fixture are the storage and pipeline tests: marked `db`, so
    .ci/run can run them again on PostgreSQL (`WATCHER_TEST_BACKEND=postgresql pytest -m db`)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "database_url" in names or "empty_database_url" in names:
            item.add_marker(pytest.mark.db)


def slow_wires(server: FeedServer, delays: list[float], per_feed: int) -> dict[str, Any]:
    """Feeds w0, w1, ... of `per_feed` distinct bulletins each, feed f answering after
    delays[f] seconds: a busy cycle for the tests that break things in the middle of one."""
    feeds: dict[str, Any] = {}
    for f, delay in enumerate(delays):
        items = "".join(
            f"<item><title>Karabakh bulletin {f}-{i:02d}</title>"
            f"<link>{server.url(f'/s/{f}/{i}')}</link><guid>s-{f}-{i}</guid>"
            f"<description>Karabakh bulletin {i} of wire {f}.</description></item>"
            for i in range(per_feed)
        )
        feeds[f"w{f}"] = {
            "url": server.add(
                f"/w{f}.xml",
                f'<?xml version="1.0"?><rss version="2.0"><channel><title>w{f}</title>'
                f"{items}</channel></rss>",
                "application/rss+xml",
            ),
            "extract": False,
        }
        server.routes[f"/w{f}.xml"].delay = delay
    return feeds
