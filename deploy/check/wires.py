"""Loopback feeds, article pages and an alert receiver on the host, for deploy/check-image.

Standard library only: it runs on the host's python3, outside any virtualenv.
    python3 wires.py PORT_FILE ALERTS_DIR
Feeds: /feeds/a0.xml, /feeds/a1.xml (the single-container checks: one story about Karabakh,
one about the weather) and /feeds/p0.xml .. /feeds/p5.xml (the two-container checks: two
stories each, one about Karabakh). Alerts POSTed to /alert/NAME are appended, one JSON object a
line, to ALERTS_DIR/NAME.jsonl.
"""

from __future__ import annotations

import json
import random
import sys
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WORDS = [
    "harbour",
    "council",
    "railway",
    "minister",
    "winter",
    "budget",
    "factory",
    "orchard",
    "museum",
    "bridge",
    "festival",
    "tractor",
    "library",
    "vineyard",
    "airport",
    "stadium",
    "hospital",
    "quarry",
    "ferry",
    "textile",
    "satellite",
    "canal",
    "glacier",
    "brewery",
    "pipeline",
    "bakery",
    "parliament",
    "observatory",
    "tunnel",
    "cathedral",
    "lighthouse",
]


def story_text(seed: str) -> str:
    rng = random.Random(seed)  # distinct, stable text per story: no two are near-duplicates
    sentences = [" ".join(rng.sample(WORDS, 9)).capitalize() + "." for _ in range(6)]
    return " ".join(sentences)


def build() -> tuple[dict[str, list[dict[str, str]]], dict[str, dict[str, str]]]:
    feeds: dict[str, list[dict[str, str]]] = {}
    stories: dict[str, dict[str, str]] = {}

    def add(feed: str, sid: str, title: str, lead: str) -> None:
        story = {"id": sid, "title": title, "text": f"{lead} {story_text(sid)}"}
        stories[sid] = story
        feeds.setdefault(feed, []).append(story)

    add(
        "a0",
        "a0-talks",
        "Karabakh peace talks resume in Brussels",
        "Armenian and Azerbaijani delegations resumed Karabakh peace talks on Friday.",
    )
    add(
        "a1",
        "a1-weather",
        "Rain expected in Baku this weekend",
        "Forecasters expect heavy rain and strong wind on Saturday.",
    )
    for i in range(6):
        add(
            f"p{i}",
            f"p{i}-k",
            f"Karabakh border commission meets, session {i}",
            f"The Karabakh border commission held session {i} on Thursday.",
        )
        add(
            f"p{i}",
            f"p{i}-x",
            f"Regional markets report, edition {i}",
            f"Traders reported steady prices in edition {i} of the weekly review.",
        )
    return feeds, stories


def main() -> None:
    port_file, alerts_dir = Path(sys.argv[1]), Path(sys.argv[2])
    alerts_dir.mkdir(parents=True, exist_ok=True)
    feeds, stories = build()
    lock = threading.Lock()
    date = formatdate(usegmt=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "feeds" and parts[1][:-4] in feeds:
                items = "".join(
                    f"<item><title>{s['title']}</title><link>{base}/pages/{s['id']}.html</link>"
                    f'<guid isPermaLink="false">check-{s["id"]}</guid><pubDate>{date}</pubDate>'
                    f"<description>{s['text'][:80]}</description></item>"
                    for s in feeds[parts[1][:-4]]
                )
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                    f"<title>check {parts[1]}</title><link>{base}/</link><description>check"
                    f"</description>{items}</channel></rss>"
                )
                return self.send(200, body, "application/rss+xml")
            if len(parts) == 2 and parts[0] == "pages" and parts[1][:-5] in stories:
                s = stories[parts[1][:-5]]
                body = (
                    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                    f"<title>{s['title']}</title></head><body><nav><a href='/'>Home</a></nav>"
                    f"<main><article><h1>{s['title']}</h1><p>{s['text']}</p></article></main></body></html>"
                )
                return self.send(200, body, "text/html")
            return self.send(404, "not found", "text/plain")

        def do_POST(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}")
            if len(parts) == 2 and parts[0] == "alert" and parts[1].isalnum():
                with lock, (alerts_dir / f"{parts[1]}.jsonl").open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(payload, ensure_ascii=False) + "\n")
                return self.send(200, "ok", "text/plain")
            return self.send(404, "not found", "text/plain")

        def send(self, status: int, text: str, ctype: str) -> None:
            data = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
