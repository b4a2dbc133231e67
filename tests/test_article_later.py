"""A story is alerted on the feed's own text without waiting for its article page; the page then
completes the stored story and alerts the rules only its text matches, once each, and a page
left unread by a killed daemon is read by the next start."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QuietHandler, Receiver, run_watcher, serve, wait_for, write_config
from tests.conftest import start_daemon as start

PAGE = (
    "<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    "<p>{text}</p><p>Officials gave no further details on Tuesday evening, and the agency said "
    "it would publish a fuller statement once the assessment teams had reported back from the "
    "affected districts along the northern coast.</p></article></body></html>"
)
STORIES = {
    # headline matches `quake`; only the article names the reactor
    "/p/quake.html": (
        "Strong quake hits the northern coast",
        "The tremor was felt across the region. Engineers checked the research reactor near the "
        "port and found no damage, the operator said in a short note to the press.",
    ),
    # nothing in the feed's text matches; the article names the reactor
    "/p/council.html": (
        "City council meets on the budget",
        "Among the items was the decommissioning of the old reactor building, which the council "
        "agreed to fund over five years after a long debate between the two largest groups.",
    ),
}


class Pages:
    """A feed and its article pages on loopback; pages wait for `gate`, and `served` lists the
    pages whose answer has started."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.requested: list[str] = []
        self.served: list[str] = []
        pages = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path == "/feed.xml":
                    self.send_body(pages.feed().encode(), "application/rss+xml")
                    return
                story = STORIES.get(self.path)
                if story is None:
                    self.send_error(404)
                    return
                pages.requested.append(self.path)
                pages.gate.wait(60)
                pages.served.append(self.path)
                title, text = story
                self.send_body(PAGE.format(title=title, text=text).encode(), "text/html")

        self.httpd, self.base = serve(Handler)

    def feed(self) -> str:
        items = "".join(
            f"<item><title>{title}</title><link>{self.base}{path}</link><guid>{path}</guid>"
            f"<description>{title}.</description></item>"
            for path, (title, _) in STORIES.items()
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>w</title>{items}</channel></rss>'


@pytest.fixture
def pages() -> Iterator[Pages]:
    server = Pages()
    yield server
    server.gate.set()
    server.httpd.shutdown()
    server.httpd.server_close()


def config(tmp_path: Path, pages: Pages, receiver: Receiver) -> Path:
    return write_config(
        tmp_path / "w.yaml",
        database=f"sqlite:///{tmp_path / 'w.db'}",
        polling={"interval": "1h"},
        feeds={"wire": pages.base + "/feed.xml"},
        notifiers={"hook": [receiver.apprise_url]},
        rules=[
            {"name": "quake", "any": ["quake"], "notify": ["hook"]},
            {"name": "reactor", "any": ["reactor"], "notify": ["hook"]},
        ],
    )


def alerted(receiver: Receiver) -> Counter[tuple[str, str]]:
    """(story title, rule) of every alert received."""
    out: Counter[tuple[str, str]] = Counter()
    for a in receiver.alerts:
        rules, _, title = a["title"].partition("] ")
        for rule in rules.strip("[").split(", "):
            out[(title, rule)] += 1
    return out


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


QUAKE, COUNCIL = (t for t, _ in STORIES.values())
EXPECTED = Counter({(QUAKE, "quake"): 1, (QUAKE, "reactor"): 1, (COUNCIL, "reactor"): 1})


def test_headline_match_alerts_before_the_page_is_served_and_the_page_adds_the_rest(
    tmp_path: Path, pages: Pages, receiver: Receiver
) -> None:
    cfg = config(tmp_path, pages, receiver)
    proc = start(cfg, tmp_path / "daemon.log")
    try:
        wait_for(lambda: alerted(receiver)[(QUAKE, "quake")] == 1)
        assert pages.served == []  # its page has not been answered: the alert did not wait
        assert rows(tmp_path / "w.db", "SELECT DISTINCT body_source FROM stories") == [("pending",)]
        pages.gate.set()
        wait_for(lambda: sum(alerted(receiver).values()) >= 3)
        time.sleep(1.0)  # room for a duplicate to show up, were there one
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert alerted(receiver) == EXPECTED, (tmp_path / "daemon.log").read_text()
    stored = rows(tmp_path / "w.db", "SELECT title, body_source, body, language FROM stories")
    assert {(t, src, lang) for t, src, _, lang in stored} == {
        (QUAKE, "page", "en"),
        (COUNCIL, "page", "en"),
    }
    assert all("reactor" in body for _, _, body, _ in stored)
    # the quake story already alerted the notifier: the page's rule came as kind `body`
    kinds = rows(
        tmp_path / "w.db",
        "SELECT s.title, a.kind FROM alerts a JOIN stories s ON s.id = a.story_id ORDER BY a.id",
    )
    assert kinds == [(QUAKE, "alert"), (QUAKE, "body"), (COUNCIL, "alert")]
    matched = rows(
        tmp_path / "w.db",
        "SELECT s.title, m.rule FROM matches m JOIN stories s ON s.id = m.story_id ORDER BY m.rule",
    )
    assert sorted(matched) == [(COUNCIL, "reactor"), (QUAKE, "quake"), (QUAKE, "reactor")]


def test_pages_left_unread_by_kill_9_are_read_by_the_next_start(
    tmp_path: Path, pages: Pages, receiver: Receiver
) -> None:
    cfg = config(tmp_path, pages, receiver)
    db = tmp_path / "w.db"
    log = tmp_path / "daemon.log"
    proc = start(cfg, log)
    try:
        # stored, alerted and marked sent on the feed's text; the pages are still unanswered
        wait_for(lambda: alerted(receiver)[(QUAKE, "quake")] == 1)
        wait_for(lambda: rows(db, "SELECT status FROM deliveries") == [("sent",)])
        wait_for(lambda: len(pages.requested) == 1)  # one page of a feed at a time
        assert pages.served == []
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert rows(db, "SELECT DISTINCT body_source FROM stories") == [("pending",)]
        pages.gate.set()
        proc = start(cfg, log)
        wait_for(lambda: sum(alerted(receiver).values()) >= 3)
        wait_for(lambda: rows(db, "SELECT DISTINCT body_source FROM stories") == [("page",)])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert alerted(receiver) == EXPECTED, log.read_text()


def test_run_once_reads_every_page_before_it_delivers(
    tmp_path: Path, pages: Pages, receiver: Receiver
) -> None:
    pages.gate.set()
    cfg = config(tmp_path, pages, receiver)
    done = run_watcher("run", "--once", "-c", str(cfg))
    assert done.returncode == 0, done.stderr
    # as if pages came first: the quake story's alert waited unsent, so it was made again
    # from the full text, one message naming both rules
    assert "2 new stories, 2 matched, 2 alert(s) sent" in done.stdout
    assert alerted(receiver) == EXPECTED
    assert sorted(a["title"] for a in receiver.alerts) == [
        f"[quake, reactor] {QUAKE}",
        f"[reactor] {COUNCIL}",
    ]
    assert rows(tmp_path / "w.db", "SELECT DISTINCT body_source FROM stories") == [("page",)]
    again = run_watcher("run", "--once", "-c", str(cfg))
    assert again.returncode == 0, again.stderr
    assert alerted(receiver) == EXPECTED  # nothing alerted twice


def test_a_page_completes_its_story_once(tmp_path: Path, database_url: str) -> None:
    """Two processes that picked up the same pending story: the second completion is a no-op."""
    from watcher.neardup import fingerprint
    from watcher.store import Store
    from watcher.store.pending import BodyToSave, pending_stories, save_bodies
    from watcher.store.tables import StoryRow

    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    store = Store(database_url)
    store.create_schema()
    try:
        with store.write() as s:
            row = StoryRow(
                feed="wire", key="guid:1", title="Council meets", body="Council meets.",
                body_source="pending", content_hash="x", first_seen_at=now,
            )  # fmt: skip
            s.add(row)
            s.flush()
            sid = row.id
        assert sid is not None
        (story,) = pending_stories(store, [sid])
        assert story is not None and story.body == "Council meets."
        item = BodyToSave(
            story_id=sid,
            body="The council met on Tuesday about the reactor.",
            body_source="page",
            language="en",
            search_text="the council met on tuesday about the reactor",
            matches=(),
            fingerprint=fingerprint("Council meets", "The council met on Tuesday."),
            alerts=lambda info, taken: (),
            now=now,
        )
        first, second = save_bodies(store, [item, item])
        assert first is not None and second is None
        assert pending_stories(store, [sid]) == [None]
        with store.read() as s:
            got = s.get(StoryRow, sid)
            assert got is not None and got.body_source == "page" and "reactor" in got.body
    finally:
        store.close()
