"""A loopback farm of feeds in its own process, so its CPU is not the daemon's and the harness
stays free to sample: N RSS feeds spread over M hosts (127.0.x.y; one aiohttp server on
0.0.0.0 answers on every loopback address), each answer delayed by `latency`, ETag and
Last-Modified honoured or not, article pages built from the corpus's saved pages, and a
publish command that adds stories to chosen feeds and says when it did.

Every answer is counted by kind (a feed's 200 with a body the client has not had from this
feed before, a 200 with a body it has, a 304, a page), so the harness can tell what the daemon
polled without reading its log."""

from __future__ import annotations

import asyncio
import html
import multiprocessing as mp
import re
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import cache
from multiprocessing.connection import Connection
from typing import Any

from benchmarks import texts

_PARAGRAPH = re.compile(rb"<p(?:\s[^>]*)?>(.*?)</p>", re.S | re.I)


def host(index: int) -> str:
    """The loopback address of host `index`: 127.0.0.2, 127.0.0.3, ... (127.0.0.1 stays the
    harness's own)."""
    n = index + 2
    return f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@dataclass(frozen=True)
class FarmSpec:
    feeds: int
    hosts: int = 0  # 0: one host per feed
    items: int = 10  # items each feed holds at the start
    latency: float = 0.05
    validators: bool = True  # ETag and Last-Modified, honoured with 304
    templated: bool = False
    window: int = 20  # most items a feed lists; older ones drop out
    match_every: int = 10  # one story in this many carries the alerting rule's marker
    pages: bool = False  # serve article pages (a daemon that extracts them reads them)

    @property
    def host_count(self) -> int:
        return self.hosts or self.feeds

    def feed_host(self, feed: int) -> str:
        return host(feed % self.host_count)


@dataclass(frozen=True)
class Published:
    sid: int
    feed: int
    at: float  # time.time() when the feed started listing it
    marked: bool  # the story carries the marker, so it is owed one alert
    body_only: bool  # marked, and only in the article page


@dataclass
class _Feed:
    items: list[int] = field(default_factory=list)  # newest first
    version: int = 0
    modified: float = 0.0
    body: bytes = b""
    served: dict[str, int] = field(default_factory=dict)  # client -> version last sent


class Farm:
    """The harness's handle on the farm process."""

    def __init__(self, spec: FarmSpec) -> None:
        self.spec = spec
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        texts.sentences()  # read the corpus once, before the fork
        if spec.pages:
            _pages()  # likewise: choosing the pages extracts each of them
        self._proc = ctx.Process(target=_serve, args=(spec, child), daemon=True)
        self._proc.start()
        self.port: int = self._conn.recv()

    def url(self, feed: int) -> str:
        return f"http://{self.spec.feed_host(feed)}:{self.port}/feed/{feed}"

    def _ask(self, *cmd: Any) -> Any:
        self._conn.send(cmd)
        return self._conn.recv()

    def publish(
        self, feeds: list[int], per_feed: int = 1, body_only_every: int = 0
    ) -> list[Published]:
        """Add `per_feed` stories to each of `feeds` at once; one in `match_every` carries the
        marker, and with body_only_every=k every k-th of those carries it only in its article
        page."""
        return [Published(*p) for p in self._ask("publish", feeds, per_feed, body_only_every)]

    def initial(self) -> list[Published]:
        return [Published(*p) for p in self._ask("initial")]

    def set_validators(self, on: bool) -> None:
        self._ask("validators", on)

    def counts(self) -> dict[str, float]:
        return dict(self._ask("counts"))

    def close(self) -> None:
        if self._proc.is_alive():
            self._ask("stop")
        self._proc.join(10)


@cache
def _pages() -> list[tuple[list[bytes], int]]:
    """Corpus pages cut around their paragraphs of 80 bytes or more (the article's own text on
    a news page): the story's text replaces them, so every story's page keeps a real page's
    layout and navigation but has an article of its own (pages sharing their article would
    rightly be clustered as one story). Pages whose longest paragraph is under 300 bytes
    (block pages, index pages) are left out. Even items are page text, odd ones paragraphs;
    the story's own text (with the marker) goes into the longest. Pages whose extraction drops
    that paragraph (a third of them: the extractor takes their article to be elsewhere) are
    left out too, by extracting each with two stories' texts, or a story marked only in its
    page could never be alerted and the burst would measure the corpus, not the daemon."""
    out = []
    for path in sorted(texts.PAGES.glob("*.html")):
        if path.name.endswith(".expected.html"):
            continue
        raw = path.read_bytes()
        spans = [m.span(1) for m in _PARAGRAPH.finditer(raw) if len(m.group(1)) >= 80]
        if not spans or max(e - b for b, e in spans) < 300:
            continue
        parts, at = [], 0
        for b, e in spans:
            parts += [raw[at:b], raw[b:e]]
            at = e
        longest = max(range(len(spans)), key=lambda k: spans[k][1] - spans[k][0])
        page = ([*parts, raw[at:]], longest)
        if all(_keeps_marker(page, sid) for sid in (len(out), len(out) + 1000)):
            out.append(page)
    if not out:
        raise SystemExit(f"no corpus page keeps its article through extraction; {texts.PAGES}?")
    return out


def _render(page: tuple[list[bytes], int], sid: int, text: texts.StoryText) -> bytes:
    """Story `sid`'s article page: the corpus page with paragraphs of its own."""
    parts, longest = page
    paras = texts.paragraphs(sid, text.page_text, len(parts) // 2, longest)
    return b"".join(
        part if k % 2 == 0 else html.escape(paras[k // 2]).encode("ascii", "xmlcharrefreplace")
        for k, part in enumerate(parts)
    )


def _keeps_marker(page: tuple[list[bytes], int], sid: int) -> bool:
    from watcher.ingest.extract import extract_article

    got = extract_article(_render(page, sid, texts.distinct(sid, texts.PAGE)), "http://x/page/1")
    return got is not None and texts.MARKER in got.text.lower()


def _serve(spec: FarmSpec, conn: Connection) -> None:
    asyncio.run(_main(spec, conn))


async def _main(spec: FarmSpec, conn: Connection) -> None:
    from aiohttp import web

    pages = _pages() if spec.pages else []
    story_text = texts.templated if spec.templated else texts.distinct
    feeds = [_Feed() for _ in range(spec.feeds)]
    stories: dict[int, tuple[float, texts.StoryText]] = {}  # sid -> (published, text)
    counts: dict[str, float] = {"feed_200_new": 0, "feed_200_same": 0, "feed_304": 0, "page": 0}
    answered: set[int] = set()
    state = {"validators": spec.validators, "next": 0, "port": 0}
    stop = asyncio.Event()

    def render(i: int) -> None:
        f = feeds[i]
        base = f"http://{spec.feed_host(i)}:{state['port']}"
        items = []
        for sid in f.items[: spec.window]:
            when, t = stories[sid]
            items.append(
                f"<item><title>{html.escape(t.title)}</title><link>{base}/page/{sid}</link>"
                f"<guid isPermaLink='false'>s{sid}</guid>"
                f"<pubDate>{formatdate(when, usegmt=True)}</pubDate>"
                f"<description>{html.escape(t.summary)}</description></item>"
            )
        f.body = (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Wire {i}</title><link>{base}/</link><description>bench wire</description>"
            f"{''.join(items)}</channel></rss>"
        ).encode()

    def add(targets: list[int], per_feed: int, body_only_every: int) -> list[tuple[Any, ...]]:
        now = time.time()
        out = []
        for i in targets:
            for _ in range(per_feed):
                sid = state["next"]
                state["next"] += 1
                marked = sid % spec.match_every == 0
                nth = sid // spec.match_every  # among the marked stories
                body_only = (
                    marked
                    and bool(body_only_every)
                    and nth % body_only_every == body_only_every - 1
                )
                where = texts.PAGE if body_only else texts.SUMMARY if marked else texts.NOWHERE
                stories[sid] = (now, story_text(sid, where))
                feeds[i].items.insert(0, sid)
                out.append((sid, i, now, marked, body_only))
            feeds[i].version += 1
            feeds[i].modified = now
            render(i)
        return out

    async def feed(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(spec.latency)
        i = int(request.match_info["i"])
        f = feeds[i]
        counts["last_answer_at"] = time.time()
        counts.setdefault("first_answer_at", counts["last_answer_at"])
        answered.add(i)
        headers = {}
        if state["validators"]:
            etag = f'"{i}-{f.version}"'
            modified = formatdate(f.modified, usegmt=True)
            headers = {"ETag": etag, "Last-Modified": modified}
            inm, ims = (
                request.headers.get("If-None-Match"),
                request.headers.get("If-Modified-Since"),
            )
            if inm == etag or (inm is None and ims == modified):
                counts["feed_304"] += 1
                return web.Response(status=304, headers=headers)
        client = request.remote or ""
        same = f.served.get(client) == f.version
        counts["feed_200_same" if same else "feed_200_new"] += 1
        f.served[client] = f.version
        return web.Response(body=f.body, content_type="application/rss+xml", headers=headers)

    async def page(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(spec.latency)
        sid = int(request.match_info["sid"])
        if sid not in stories or not pages:
            raise web.HTTPNotFound()
        counts["page"] += 1
        body = _render(pages[sid % len(pages)], sid, stories[sid][1])
        return web.Response(body=body, content_type="text/html")

    def command() -> None:
        cmd = conn.recv()
        if cmd[0] == "publish":
            conn.send(add(cmd[1], cmd[2], cmd[3]))
        elif cmd[0] == "initial":
            conn.send(initial)
        elif cmd[0] == "validators":
            state["validators"] = cmd[1]
            conn.send(True)
        elif cmd[0] == "counts":
            conn.send({**counts, "feeds_answered": len(answered), "stories": state["next"]})
        elif cmd[0] == "stop":
            stop.set()
            conn.send(True)

    app = web.Application()
    app.router.add_get("/feed/{i}", feed)
    app.router.add_get("/page/{sid}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", 0, backlog=4096)
    await site.start()
    state["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    initial = add(list(range(spec.feeds)), spec.items, 0) if spec.items else []
    if not spec.items:
        for i in range(spec.feeds):
            render(i)
    asyncio.get_running_loop().add_reader(conn.fileno(), command)
    conn.send(state["port"])
    await stop.wait()
    await runner.cleanup()
