"""In a burst, a story whose headline matches is alerted without waiting for the backlog of
article pages: its poll's write goes before the page writes queued ahead of it, and its
delivery's writes go before what is left of them (the real pipeline: polls, article pages and
delivery against loopback servers and SQLite; the order is read from the writes themselves)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QuietHandler, Receiver, serve, write_config
from watcher.config import load_config
from watcher.daemon.scheduler import deliver_all
from watcher.ingest.fetch import Fetcher
from watcher.ingest.workers import WorkerPool
from watcher.notify import sender
from watcher.pipeline import Context, fetch_limits, pages, poll_feed
from watcher.pipeline import context as pipeline_context
from watcher.rules import RuleSet
from watcher.store import Store, sync_feeds
from watcher.store.coalesce import PAGE, POLL

BACKLOG = 60  # feeds of one new story each, whose pages make the backlog
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
ARTICLE = (
    "<html><head><title>{title}</title></head><body><article><h1>{title}</h1><p>The council "
    "met for three hours on Tuesday and agreed to return to the question of the harbour "
    "budget next month, after the auditors have reported on last year's accounts.</p><p>Its "
    "members said the delay would not hold up the repairs already under way.</p></article>"
    "</body></html>"
)


def rss(base: str, items: Sequence[tuple[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{base}{path}</link><guid>{path}</guid>"
        f"<description>{title}.</description></item>"
        for path, title in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>w</title>{entries}</channel></rss>'


class Wire:
    """Feeds `/wire/N.xml` (one story each, with its article page) and `/flash.xml` (one story
    whose headline names the quake) on loopback."""

    def __init__(self) -> None:
        wire = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path == "/flash.xml":
                    body = rss(wire.base, [("/p/flash.html", "Strong quake hits the coast")])
                    self.send_body(body.encode(), "application/rss+xml")
                elif self.path.startswith("/wire/"):
                    n = self.path.removeprefix("/wire/").removesuffix(".xml")
                    body = rss(wire.base, [(f"/p/{n}.html", f"Council delays harbour budget {n}")])
                    self.send_body(body.encode(), "application/rss+xml")
                elif self.path.startswith("/p/"):
                    self.send_body(ARTICLE.format(title=self.path).encode(), "text/html")
                else:
                    self.send_error(404)

        self.httpd, self.base = serve(Handler)


@pytest.fixture
def wire() -> Iterator[Wire]:
    server = Wire()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


async def until(condition: Callable[[], bool]) -> None:
    """Waits for a state of the pipeline (never a measure of time: the bound only stops a
    broken run from hanging)."""
    for _ in range(6000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_a_headline_alert_goes_before_the_page_backlog(
    tmp_path: Path, wire: Wire, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        tmp_path / "w.yaml",
        database=f"sqlite:///{tmp_path / 'w.db'}",
        polling={"interval": "1h", "host_gap": "0s", "workers": 0, "per_host": 8},
        feeds={
            **{f"wire{n}": f"{wire.base}/wire/{n}.xml" for n in range(BACKLOG)},
            "flash": {"url": f"{wire.base}/flash.xml", "extract": False},
        },
        notifiers={"hook": [receiver.apprise_url]},
        rules=[{"name": "quake", "any": ["quake"], "notify": ["hook"]}],
    )
    config = load_config(str(path))
    # The writes, in the order they ran. The first page write holds the database until the
    # headline's poll is waiting for its turn, as a long page transaction would in a burst.
    writes: list[tuple[str, object]] = []
    held = threading.Event()
    asked = [0]  # page writes asked for
    burst_from = [0]  # writes from here on ran after the hold

    real_bodies, real_polls = pages.save_bodies, pipeline_context.save_polls
    real_mark, real_body = sender.mark_sent, pages.BodyToSave

    def save_bodies(store: Store, items: Sequence[Any]) -> Any:
        if not held.is_set():
            held.wait(60)
        out = real_bodies(store, items)
        writes.append(("page", len(items)))
        return out

    def save_polls(store: Store, polls: Sequence[Any]) -> Any:
        out = real_polls(store, polls)
        writes.append(("poll", tuple(p.feed for p in polls)))
        return out

    def mark_sent(store: Store, ids: Sequence[int], now: datetime) -> None:
        real_mark(store, ids, now)
        writes.append(("mark", len(ids)))

    def body_to_save(*args: Any, **kw: Any) -> Any:
        asked[0] += 1
        return real_body(*args, **kw)

    monkeypatch.setattr(pages, "save_bodies", save_bodies)
    monkeypatch.setattr(pages, "BodyToSave", body_to_save)
    monkeypatch.setattr(pipeline_context, "save_polls", save_polls)
    monkeypatch.setattr(sender, "mark_sent", mark_sent)

    store = Store(config.database)
    store.create_schema()
    sync_feeds(store, config.feeds, NOW, config.polling.interval)
    rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)

    async def burst() -> None:
        async with Fetcher(fetch_limits(config)) as fetcher:
            pool = WorkerPool(rules, [r.spec for r in config.rules], {}, workers=0)
            ctx = Context(config, store, fetcher, rules, lambda: NOW, pool)
            backlog = [f for f in config.feeds if f.name != "flash"]
            await asyncio.gather(*(poll_feed(ctx, f) for f in backlog))
            # every page read and its write asked for: the first holds the database, the rest wait
            turns = ctx.batches.writing
            await until(lambda: asked[0] == BACKLOG and turns.waiting(PAGE) == 1)
            flash = config.feed("flash")
            assert flash is not None
            headline = asyncio.create_task(poll_feed(ctx, flash))
            await until(lambda: turns.waiting(POLL) == 1)
            burst_from[0] = len(writes)
            held.set()
            report = await headline
            assert report.matched == 1
            await deliver_all(store, config, lambda: NOW, turns)
            await ctx.pages.drain()

    asyncio.run(burst())
    store.close()

    assert [a["title"] for a in receiver.alerts] == ["[quake] Strong quake hits the coast"]
    assert sum(int(str(n)) for kind, n in writes if kind == "page") == BACKLOG
    writes = writes[burst_from[0] :]
    # the page write that held the database, then the headline's poll, before the queued pages
    assert writes[0][0] == "page" and writes[1] == ("poll", ("flash",)), writes
    first_mark = next(i for i, (kind, _) in enumerate(writes) if kind == "mark")
    # the alert was marked sent while page writes queued before its poll still waited
    assert any(kind == "page" for kind, _ in writes[first_mark:]), writes
