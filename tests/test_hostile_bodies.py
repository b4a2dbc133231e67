"""Bodies past the cap, with and without Content-Length, and compression bombs (gzip and raw
deflate) end as FetchError within the cap, from a raw loopback server that writes what it likes;
a 15 MB article page costs its story the page, not the poll; hostile templates are refused."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import zlib
from collections.abc import Iterator

import pytest

from watcher.errors import FetchError
from watcher.ingest.fetch import Fetcher, FetchLimits
from watcher.notify.templates import alert_context, render, template_failure

CAP = 1_000_000
LIMITS = FetchLimits(timeout=5, max_bytes=CAP, allow_private_addresses=True, host_gap=0)


def _deflate(data: bytes, raw: bool) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15 if raw else 15)
    return c.compress(data) + c.flush()


BOMB = b"<rss>" + b" " * 50_000_000
RESPONSES = {
    "/chunked": (
        [("Transfer-Encoding", "chunked")],
        b"".join(b"%x\r\n%s\r\n" % (65536, b"x" * 65536) for _ in range(40)) + b"0\r\n\r\n",
    ),
    "/close": ([], b"x" * 3_000_000),  # no length at all: the body ends when the socket closes
    "/lying": ([("Content-Length", "100")], b"x" * 3_000_000),
    "/deflate": ([("Content-Encoding", "deflate")], _deflate(BOMB, raw=False)),
    "/rawdeflate": ([("Content-Encoding", "deflate")], _deflate(BOMB, raw=True)),
}


@pytest.fixture
def raw_server() -> Iterator[str]:
    """One response per connection, written byte for byte as RESPONSES says."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536).decode("latin-1")
                path = request.split(" ", 2)[1] if " " in request else "/"
                headers, body = RESPONSES.get(path, ([], b""))
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n"
                )
                head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
                with contextlib.suppress(OSError):  # the client stopped at its cap: the point
                    conn.sendall(head.encode() + body)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    sock.close()


def get(url: str) -> bytes:
    async def run() -> bytes:
        async with Fetcher(LIMITS) as f:
            return (await f.get(url)).body

    return asyncio.run(run())


@pytest.mark.parametrize("path", ["/chunked", "/close", "/deflate", "/rawdeflate"])
def test_bodies_past_the_cap_fail_within_it(raw_server: str, path: str) -> None:
    with pytest.raises(FetchError) as exc:
        get(raw_server + path)
    assert f"exceeds the {CAP}-byte limit" in str(exc.value)


def test_a_lying_content_length_reads_only_what_it_declares(raw_server: str) -> None:
    try:
        body = get(raw_server + "/lying")
    except FetchError:
        return  # refusing the response is as good
    assert len(body) <= CAP


HOSTILE_TEMPLATES = [
    "{{ 'x' * 1000000000 }}",
    "{{ 9 ** 99999999 }}",
    "{% for i in range(1000000000) %}{{ i }}{% endfor %}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ story.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
]


@pytest.mark.parametrize("source", HOSTILE_TEMPLATES)
def test_hostile_templates_fail_cleanly(source: str) -> None:
    story = {"title": "t", "url": None, "feed": "f", "published_at": None, "summary": ""}
    context = alert_context({**story, "language": None}, [])
    failure = template_failure(context, None, source)
    assert failure is not None and "template error" in failure
    assert render(context, "text")[0]  # the default still renders
