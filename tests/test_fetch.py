"""fetch.py against a real loopback server: deadlines, size caps, redirects, the address guard."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import FeedServer, Route
from watcher.errors import BlockedAddressError, FetchError
from watcher.ingest.fetch import Fetcher, FetchLimits, Response, is_blocked_address

OPEN = FetchLimits(timeout=3, max_bytes=100_000, allow_private_addresses=True)


def get(url: str, limits: FetchLimits = OPEN, **kw: str) -> Response:
    async def go() -> Response:
        async with Fetcher(limits) as f:
            return await f.get(url, **kw)

    return asyncio.run(go())


def test_conditional_get_sends_validators(feed_server: FeedServer) -> None:
    url = feed_server.add("/f.xml", "<rss/>")
    resp = get(url, etag='"abc"', last_modified="Sat, 28 Nov 2026 05:00:00 GMT")
    assert resp.status == 200 and resp.body == b"<rss/>"
    headers = feed_server.requests[-1][1]
    assert headers["If-None-Match"] == '"abc"'
    assert headers["If-Modified-Since"] == "Sat, 28 Nov 2026 05:00:00 GMT"
    assert headers["User-Agent"].startswith("watcher/")


def test_size_cap_counts_decoded_bytes(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"a" * 5_000_000)  # 5 KB on the wire, 5 MB decoded
    feed_server.routes["/bomb"] = Route(bomb, 200, {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="exceeds the 100000-byte limit"):
        get(feed_server.url("/bomb"))
    feed_server.add("/big", b"x" * 200_000)
    with pytest.raises(FetchError, match="exceeds the 100000-byte limit"):
        get(feed_server.url("/big"))


def test_redirects_followed_then_capped(feed_server: FeedServer) -> None:
    feed_server.add("/final", "ok")
    feed_server.routes["/moved"] = Route(b"", 301, {"Location": "/final"})
    resp = get(feed_server.url("/moved"))
    assert resp.body == b"ok" and resp.url.endswith("/final") and resp.redirected_permanently
    feed_server.routes["/loop"] = Route(b"", 302, {"Location": "/loop"})
    with pytest.raises(FetchError, match="more than 5 redirects"):
        get(feed_server.url("/loop"))
    feed_server.routes["/ftp"] = Route(b"", 302, {"Location": "ftp://example.org/x"})
    with pytest.raises(FetchError, match="non-http"):
        get(feed_server.url("/ftp"))


@pytest.fixture
def trickle_server() -> Iterator[int]:
    """Sends headers, then one byte a second: only a total deadline stops it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            try:
                while not stop.is_set():
                    conn.sendall(b"x")
                    time.sleep(0.5)
            except OSError:
                pass
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield sock.getsockname()[1]
    stop.set()
    t.join(2)
    sock.close()


def test_total_deadline_stops_a_trickle(trickle_server: int) -> None:
    limits = FetchLimits(timeout=1.5, allow_private_addresses=True)
    with pytest.raises(FetchError, match=r"no complete response within 1.5s"):
        get(f"http://127.0.0.1:{trickle_server}/slow", limits)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "127.1", "2130706433", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0"],
)
def test_private_addresses_refused_by_default(feed_server: FeedServer, host: str) -> None:
    feed_server.add("/f", "secret")
    url = f"http://{host}:{feed_server.port}/f"
    with pytest.raises(FetchError) as info:
        get(url, FetchLimits(timeout=3))
    assert isinstance(info.value, BlockedAddressError) or "canonical" in str(info.value)
    assert feed_server.hits.get("/f", 0) == 0


def test_guard_applies_on_every_redirect_hop(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend 127.0.0.1 is public so the first hop is allowed; the redirect target is not.
    monkeypatch.setattr("watcher.ingest.fetch.is_blocked_address", lambda ip: ip != "127.0.0.1")
    feed_server.add("/ok", "fine")
    assert get(feed_server.url("/ok"), FetchLimits(timeout=3)).body == b"fine"
    feed_server.routes["/r"] = Route(b"", 302, {"Location": "http://127.0.0.2:9/admin"})
    with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.2"):
        get(feed_server.url("/r"), FetchLimits(timeout=3))


@pytest.mark.parametrize(
    ("ip", "blocked"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("224.0.0.1", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:10.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
    ],
)
def test_blocked_address_table(ip: str, blocked: bool) -> None:
    assert is_blocked_address(ip) is blocked
