"""The demo's news wires: bundled sample stories served as RSS feeds and article pages on
loopback, published one at a time, plus the webhook that receives the demo's alerts.

It is a stand-in for the internet, so the daemon under demonstration runs unchanged: it polls
real HTTP feeds, fetches real pages and delivers through apprise's `json://` like any
notifier. Article pages carry a navigation bar and "related" links full of the rules' words,
the way agency sites do; the decoy stories have those words nowhere else.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any
from xml.sax.saxutils import escape

import yaml

MAX_ALERT = 256 * 1024

NAV = {
    "en": ["Home", "Karabakh peace talks", "Pashinyan", "Economy", "Sport"],
    "az": ["Əsas", "Qarabağ danışıqları", "Paşinyan", "İqtisadiyyat", "İdman"],
    "ru": ["Главная", "Переговоры по Карабаху", "Пашинян", "Экономика", "Спорт"],
    "hy": ["Գլխավոր", "Ղարաբաղ", "Փաշինյան", "Տնտեսություն", "Սպորտ"],
    "tr": ["Ana sayfa", "Karabağ barış görüşmeleri", "Paşinyan", "Ekonomi", "Spor"],
}
RELATED = {
    "en": ["Karabakh peace talks: what comes next", "Pashinyan speaks on the border"],
    "az": ["Qarabağ: sülh danışıqlarında növbəti addım", "Paşinyan sərhəd barədə danışıb"],
    "ru": ["Карабах: что дальше с мирными переговорами", "Пашинян о границе"],
    "hy": ["Ղարաբաղ. ինչ է սպասվում բանակցություններից", "Փաշինյանը սահմանի մասին"],
    "tr": ["Karabağ barış görüşmelerinde sırada ne var", "Paşinyan sınır hakkında konuştu"],
}


@dataclass(frozen=True)
class Story:
    id: str
    feed: str
    lang: str
    title: str
    summary: str
    body: tuple[str, ...]
    decoy: bool = False
    same: str | None = None


@dataclass(frozen=True)
class Wire:
    name: str
    title: str
    lang: str


def load_samples() -> tuple[dict[str, Wire], list[Story]]:
    """The bundled sample feeds and stories, in publishing order."""
    text = files("watcher.demo").joinpath("stories.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    wires = {name: Wire(name, w["title"], w["lang"]) for name, w in data["feeds"].items()}
    stories = [
        Story(
            id=s["id"],
            feed=s["feed"],
            lang=s["lang"],
            title=s["title"],
            summary=s["summary"],
            body=tuple(s["body"]),
            decoy=bool(s.get("decoy", False)),
            same=s.get("same"),
        )
        for s in data["stories"]
    ]
    return wires, stories


def article_page(story: Story, wire: Wire) -> str:
    nav = "".join(
        f'<li><a href="/topics/{i}">{html.escape(t)}</a></li>'
        for i, t in enumerate(NAV[story.lang])
    )
    related = "".join(
        f'<li><a href="/related/{i}">{html.escape(t)}</a></li>'
        for i, t in enumerate(RELATED[story.lang])
    )
    body = "".join(f"<p>{html.escape(p)}</p>" for p in story.body)
    title = html.escape(story.title)
    return (
        f'<!doctype html><html lang="{story.lang}"><head><meta charset="utf-8">'
        f"<title>{title} | {html.escape(wire.title)}</title></head><body>"
        f'<header><div class="logo">{html.escape(wire.title)}</div><nav><ul>{nav}</ul></nav>'
        f"</header><main><article><h1>{title}</h1>{body}</article></main>"
        f'<aside class="related"><h3>…</h3><ul>{related}</ul></aside>'
        f"<footer><p>© {html.escape(wire.title)}. {' · '.join(NAV[story.lang][1:3])}</p>"
        "</footer></body></html>"
    )


class DemoWires:
    """The sample wires over HTTP on loopback; `publish_next()` releases the next story."""

    def __init__(self, on_alert: Callable[[dict[str, Any]], None], host: str = "127.0.0.1") -> None:
        self.wires, self.stories = load_samples()
        self.on_alert = on_alert
        self._published: list[tuple[Story, datetime]] = []
        self._lock = threading.Lock()
        self._host = host
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self._host}:{self._server.server_port}"

    def feed_url(self, name: str) -> str:
        return f"{self.base}/feeds/{name}.xml"

    def page_url(self, story: Story) -> str:
        return f"{self.base}/news/{story.feed}/{story.id}.html"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def publish_next(self, now: datetime) -> Story | None:
        with self._lock:
            if len(self._published) >= len(self.stories):
                return None
            story = self.stories[len(self._published)]
            self._published.append((story, now))
            return story

    def rss(self, name: str) -> str:
        wire = self.wires[name]
        with self._lock:
            items = [(s, at) for s, at in self._published if s.feed == name]
        entries = "".join(
            f"<item><title>{escape(s.title)}</title><link>{escape(self.page_url(s))}</link>"
            f'<guid isPermaLink="false">demo-{s.id}</guid>'
            f"<pubDate>{format_datetime(at.astimezone(UTC), usegmt=True)}</pubDate>"
            f"<description>{escape(s.summary)}</description></item>"
            for s, at in reversed(items)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{escape(wire.title)}</title><link>{self.base}/</link>"
            f"<description>watcher demo</description><language>{wire.lang}</language>"
            f"{entries}</channel></rss>"
        )

    def page(self, feed: str, story_id: str) -> str | None:
        with self._lock:
            found = [s for s, _ in self._published if s.feed == feed and s.id == story_id]
        return article_page(found[0], self.wires[feed]) if found else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        wires = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                parts = path.strip("/").split("/")
                if len(parts) == 2 and parts[0] == "feeds" and parts[1].endswith(".xml"):
                    name = parts[1][: -len(".xml")]
                    if name in wires.wires:
                        return self._send(200, wires.rss(name), "application/rss+xml")
                if len(parts) == 3 and parts[0] == "news" and parts[2].endswith(".html"):
                    page = wires.page(parts[1], parts[2][: -len(".html")])
                    if page is not None:
                        return self._send(200, page, "text/html")
                return self._send(404, "not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.path.split("?", 1)[0] != "/alert" or not 0 < length <= MAX_ALERT:
                    return self._send(404, "not found", "text/plain")
                try:
                    payload = json.loads(self.rfile.read(length))
                except ValueError:
                    return self._send(400, "not JSON", "text/plain")
                if isinstance(payload, dict):
                    wires.on_alert(payload)
                return self._send(200, "ok", "text/plain")

            def _send(self, status: int, text: str, ctype: str) -> None:
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", f"{ctype}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass  # the daemon logs its polls; request lines would drown the alerts

        return Handler
