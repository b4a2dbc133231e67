"""A feed's configured headers (credentials, cookies) go only to the feed's own origin: a
redirect to another host or port, or from https to http, drops them; one within the origin
keeps them. Real loopback servers: plain http, and https with a self-signed certificate."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FeedServer, Route, run_watcher, write_config
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


# End to end over real TLS: `watcher run --once` (a subprocess, so that the trust below is set
# before its HTTP client loads) fetches a feed from a loopback https server whose self-signed
# certificate it trusts through SSL_CERT_FILE, OpenSSL's own variable: no test-only setting.


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"openssl cannot make a test certificate: {done.stderr.strip()[:200]}")
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[FeedServer]:
    server = FeedServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


RSS = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>' + (
    "<item><title>Karabakh talks</title><guid>g1</guid><description>d</description></item>"
    "</channel></rss>"
)


def run_once(tmp_path: Path, url: str, cert: Path) -> subprocess.CompletedProcess[str]:
    cfg = write_config(
        tmp_path / "w.yaml",
        database=f"sqlite:///{tmp_path / 'w.db'}",
        feeds={"wire": {"url": url, "extract": False, "headers": SECRET}},
        rules=[{"name": "karabakh", "any": ["Karabakh"]}],
    )
    return run_watcher("run", "--once", "-c", str(cfg), env={"SSL_CERT_FILE": str(cert)})


@pytest.mark.parametrize("target", ["plain http", "another host"])
def test_https_feed_headers_are_not_sent_after_a_redirect_to_http_or_another_host(
    tmp_path: Path,
    tls_server: FeedServer,
    feed_server: FeedServer,
    certificate: tuple[Path, Path],
    target: str,
) -> None:
    if target == "plain http":  # same host, port of a plain server: http://127.0.0.1:P/landing
        feed_server.add("/landing", RSS, "application/rss+xml")
        landing, recorder = feed_server.url("/landing"), feed_server
    else:  # same TLS server under its other name: https://localhost:P/landing
        tls_server.add("/landing", RSS, "application/rss+xml")
        landing, recorder = f"https://localhost:{tls_server.port}/landing", tls_server
    tls_server.routes["/feed"] = Route(b"", 302, {"Location": landing})
    done = run_once(tmp_path, f"https://127.0.0.1:{tls_server.port}/feed", certificate[0])
    assert done.returncode == 0, done.stderr
    assert "1 new stories" in done.stdout, done.stdout + done.stderr
    first = dict(tls_server.requests)["/feed"]
    assert first.get("Authorization") == "Bearer s3cret" and first.get("Cookie") == SECRET["Cookie"]
    second = dict(recorder.requests)["/landing"]
    assert "Authorization" not in second and "Cookie" not in second, second


def test_https_feed_headers_stay_on_a_redirect_within_its_origin(
    tmp_path: Path, tls_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    tls_server.add("/new", RSS, "application/rss+xml")
    tls_server.routes["/old"] = Route(b"", 301, {"Location": "/new"})
    done = run_once(tmp_path, f"https://127.0.0.1:{tls_server.port}/old", certificate[0])
    assert done.returncode == 0, done.stderr
    assert "1 new stories" in done.stdout, done.stdout + done.stderr
    assert [h.get("Authorization") for _, h in tls_server.requests] == ["Bearer s3cret"] * 2
    assert [h.get("Cookie") for _, h in tls_server.requests] == [SECRET["Cookie"]] * 2
