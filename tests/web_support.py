"""The web server for tests: a store filled by the real pipeline from loopback feeds (matches,
deliveries sent to a real webhook receiver), served by the real uvicorn server on a loopback
port in a thread of its own, and a small HTTP client that keeps cookies."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import FeedServer, Receiver
from tests.test_run_e2e import CONFIG, serve

HOSTILE_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>{base}/</link><description>x</description>
<item><title>&lt;script&gt;alert('xss-title')&lt;/script&gt; Karabakh talks script story</title>
<link>&#106;avascript:alert('xss-link')</link><guid isPermaLink="false">h-1</guid>
<description>Karabakh peace talks, hostile edition one.</description></item>
<item><title>&lt;img src=x onerror=alert('xss-img')&gt; Karabakh peace onerror story</title>
<link>{base}/h/2.html</link><guid isPermaLink="false">h-2</guid>
<description>&lt;img src=x onerror=alert('xss-img2')&gt; Karabakh negotiations resume.</description></item>
</channel></rss>"""

HTTP_SECTION = "http: {{listen: '127.0.0.1:0'{token}}}\n"
HOSTILE_FEED = '  - {{name: hostile, url: "{url}", extract: false}}\n'

TOKEN = "correct-horse-battery-staple-42"


def config_text(
    tmp_path: Path, server: FeedServer, receiver: Receiver, token: str = "", db: str | None = None
) -> str:
    urls = serve(server)
    hostile = server.add(
        "/hostile.xml", HOSTILE_RSS.format(base=server.url("")), "application/rss+xml"
    )
    text = CONFIG.format(
        db=db or f"sqlite:///{tmp_path / 'w.db'}",
        rss=urls["rss"],
        atom=urls["atom"],
        hook=receiver.apprise_url,
    )
    text = text.replace(
        '  - {name: wire-two, url: "' + urls["atom"] + '"}\n',
        '  - {name: wire-two, url: "' + urls["atom"] + '"}\n' + HOSTILE_FEED.format(url=hostile),
    )
    # threads, not worker processes: the in-process sites run the pipeline in the test process
    text = text.replace(
        "  allow_private_addresses: true\n", "  allow_private_addresses: true\n  workers: 0\n"
    )
    return HTTP_SECTION.format(token=f", token: '{token}'" if token else "") + text


class ServerThread:
    """watcher.web's WebServer on its own event loop, as the daemon runs it."""

    def __init__(self, state: Any) -> None:
        from watcher.web.server import WebServer

        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.server: WebServer | None = None
        self._state = state
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.started.wait(30), "web server did not start"

    def _run(self) -> None:
        from watcher.web.server import WebServer

        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self._stopping = asyncio.Event()
            self.server = WebServer(self._state, "127.0.0.1", 0)
            self.server.start()
            self.started.set()
            await self._stopping.wait()
            await self.server.stop()

        self.loop.run_until_complete(main())
        self.loop.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(30)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """HTTP/1.1 to the test server; keeps cookies like a browser, follows no redirects."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = dict(headers or {})
        data: bytes | None = None
        if form is not None:
            data = urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(value)
            for k, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(k, None)
                else:
                    self.cookies[k] = morsel.value
        conn.close()
        return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, raw)

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Answer:
        return self.request("POST", path, **kw)

    def csrf(self) -> str:
        if "watcher_csrf" not in self.cookies:
            self.get("/healthz")
        return self.cookies["watcher_csrf"]


@dataclass
class Site:
    """A filled store served on loopback."""

    config: Any
    store: Any
    thread: ServerThread
    feeds: FeedServer
    receiver: Receiver

    def client(self) -> Client:
        return Client(self.thread.port)


def build_site(
    tmp_path: Path, feeds: FeedServer, receiver: Receiver, token: str = "", db: str | None = None
) -> Iterator[Site]:
    from watcher.config import parse_config
    from watcher.daemon.scheduler import run_once
    from watcher.store import Store
    from watcher.web.server import WebState

    cfg_path = tmp_path / "watcher.yaml"
    cfg_path.write_text(config_text(tmp_path, feeds, receiver, token, db), encoding="utf-8")
    config = parse_config(str(cfg_path), cfg_path.read_text(encoding="utf-8"), {})
    store = Store(config.database)
    store.create_schema()
    asyncio.run(run_once(config, store))
    thread = ServerThread(
        WebState(
            config=lambda: config,
            store=store,
            checks={"scheduler": lambda: True, "workers": lambda: True},
        )
    )
    try:
        yield Site(config, store, thread, feeds, receiver)
    finally:
        thread.stop()
        store.close()


@pytest.fixture(scope="module", name="site")
def site_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One filled store per test module (running the pipeline is the slow part)."""
    feeds, receiver = FeedServer(), Receiver()
    feeds.thread.start()
    receiver.thread.start()
    try:
        yield from build_site(tmp_path_factory.mktemp("web"), feeds, receiver)
    finally:
        for s in (feeds, receiver):
            s.httpd.shutdown()
            s.httpd.server_close()


def all_routes() -> list[tuple[str, set[str], bool]]:
    """(path, methods, in the OpenAPI schema) of every route the app serves: its own and those
    of the routers it includes (FastAPI keeps included routers behind a wrapper)."""
    from fastapi.routing import APIRoute

    from watcher.config import parse_config
    from watcher.web import api, atom, ui
    from watcher.web.server import WebState, build_app

    config = parse_config("x.yaml", "database: sqlite:///unused.db\n", {})
    app = build_app(WebState(config=lambda: config, store=None))  # type: ignore[arg-type]
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    routes += [r for m in (api, atom, ui) for r in m.router.routes if isinstance(r, APIRoute)]
    return [(r.path, set(r.methods or ()), bool(r.include_in_schema)) for r in routes]
