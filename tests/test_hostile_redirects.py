"""A feed's configured headers (credentials, cookies) go only to the feed's own origin: a
redirect to another host or port, or from https to http, drops them; one within the origin
keeps them. Two real loopback servers, two origins."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.conftest import FeedServer, Route
from watcher.ingest.fetch import Fetcher, FetchLimits, _origin

LIMITS = FetchLimits(timeout=5, max_bytes=100_000, allow_private_addresses=True, host_gap=0)
SECRET = {"Authorization": "Bearer s3cret", "Cookie": "session=s3cret"}


@pytest.fixture
def other_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def fetch(url: str) -> bytes:
    async def run() -> bytes:
        async with Fetcher(LIMITS) as f:
            return (await f.get(url, headers=SECRET)).body

    return asyncio.run(run())


def test_headers_are_dropped_on_a_redirect_to_another_origin(
    feed_server: FeedServer, other_server: FeedServer
) -> None:
    other_server.add("/landing", "<rss/>", "text/xml")
    feed_server.routes["/feed"] = Route(b"", 302, {"Location": other_server.url("/landing")})
    assert fetch(feed_server.url("/feed")) == b"<rss/>"
    ((_path, first),) = feed_server.requests
    ((_, second),) = other_server.requests
    assert first.get("Authorization") == "Bearer s3cret" and first.get("Cookie")
    assert "Authorization" not in second and "Cookie" not in second


def test_headers_stay_on_a_redirect_within_the_origin(feed_server: FeedServer) -> None:
    feed_server.add("/new", "<rss/>", "text/xml")
    feed_server.routes["/old"] = Route(b"", 301, {"Location": "/new"})
    assert fetch(feed_server.url("/old")) == b"<rss/>"
    assert [h.get("Authorization") for _, h in feed_server.requests] == ["Bearer s3cret"] * 2


def test_https_to_http_is_another_origin() -> None:
    assert _origin("https://Example.org/feed") == _origin("https://example.org:443/x")
    assert _origin("https://example.org/feed") != _origin("http://example.org/feed")
    assert _origin("http://example.org/") != _origin("http://example.org:8080/")
    assert _origin("http://example.org:99999/") != _origin("http://example.org/")
