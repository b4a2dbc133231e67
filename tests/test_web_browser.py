"""The web UI in headless Chromium (Debian's package, driven by Playwright), against a real
`watcher run` with matched stories from loopback feeds: the dashboard highlights, a story page
opens, a backtest runs from the rules page, and hostile titles and links execute nothing.

Screenshots go to $WATCHER_SCREENSHOTS (the README's come from
`WATCHER_SCREENSHOTS=docs/screenshots pytest tests/test_web_browser.py`), else a temp folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, FeedServer, Receiver
from tests.test_daemon import start, wait_for
from tests.test_web_daemon import answers, free_port
from tests.web_support import Client, config_text

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE_TITLE = (
    "<script>alert('db-script')</script><img src=x onerror=\"alert('db-img')\"> "
    "Karabakh talks hostile headline"
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install -y chromium)"
)


def insert_hostile_story(db: str) -> int:
    """A story and match written straight to the database: what a hostile feed could get
    stored if every earlier stage let it through, so the UI's own escaping is what is tested."""
    from watcher.store import Store
    from watcher.store.tables import MatchRow, StoryRow

    store = Store(db)
    now = datetime.now(UTC)
    try:
        with store.write() as s:
            story = StoryRow(
                feed="hostile",
                key="test:hostile-db",
                url="&#106;avascript:alert('db-link')",  # entity-encoded javascript:
                title=HOSTILE_TITLE,
                summary="<b onmouseover=alert('db-summary')>Karabakh</b> talks",
                body="Karabakh talks <script>alert('db-body')</script> continue.",
                content_hash="hostile",
                first_seen_at=now,
            )
            s.add(story)
            s.flush()
            assert story.id is not None
            hit = {
                "term": "Karabakh",
                "field": "title",
                "text": "Karabakh",
                "snippet": "<svg onload=alert('db-snippet')> Karabakh talks",
                "mark": [33, 41],
            }
            s.add(
                MatchRow(
                    story_id=story.id,
                    rule="karabakh-talks",
                    terms=json.dumps(["Karabakh", "<img src=x onerror=alert('db-term')>"]),
                    hits=json.dumps([hit]),
                    snippet=hit["snippet"],
                    matched_at=now,
                )
            )
            return story.id
    finally:
        store.close()


class Daemon:
    def __init__(self, port: int, proc: subprocess.Popen[str], hostile_id: int) -> None:
        self.port, self.proc, self.hostile_id = port, proc, hostile_id

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module", name="daemon")
def daemon_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("browser")
    feeds, receiver = FeedServer(), Receiver()
    feeds.thread.start()
    receiver.thread.start()
    port = free_port()
    cfg = tmp / "watcher.yaml"
    cfg.write_text(
        config_text(tmp, feeds, receiver).replace("127.0.0.1:0", f"127.0.0.1:{port}"),
        encoding="utf-8",
    )
    proc = start(cfg)
    try:
        wait_for(lambda: answers(port, "/readyz") == 200)
        wait_for(lambda: len(receiver.alerts) >= 5)
        wait_for(lambda: len(Client(port).get("/api/v1/matches").json()["items"]) >= 5)
        hostile_id = insert_hostile_story(f"sqlite:///{tmp / 'w.db'}")
        yield Daemon(port, proc, hostile_id)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for s in (feeds, receiver):
            s.httpd.shutdown()
            s.httpd.server_close()


@pytest.fixture(scope="module", name="shots")
def shots_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("WATCHER_SCREENSHOTS")
    path = (ROOT / folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Watch:
    """Every dialog, console error and uncaught page error a page produces."""

    def __init__(self, page: Any) -> None:
        self.events: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", lambda m: m.type == "error" and self.events.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.events.append(f"pageerror: {e}"))

    def _dialog(self, dialog: Any) -> None:
        self.events.append(f"dialog: {dialog.message}")
        dialog.dismiss()


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, **kw: Any) -> tuple[Any, Watch]:
    context = browser.new_context(**kw)
    page = context.new_page()
    return page, Watch(page)


def test_dashboard_shows_matches_with_highlights(browser: Any, daemon: Daemon, shots: Path) -> None:
    page, watch = new_page(browser, viewport={"width": 1200, "height": 900})
    page.goto(daemon.url("/?refresh=0"))
    titles = page.locator("article.match h2 a").all_inner_texts()
    assert "Karabakh peace talks resume in Brussels" in titles
    assert "Pashinyan and Aliyev meet on the sidelines" in titles
    talks = page.locator("article.match", has_text="Karabakh peace talks resume in Brussels")
    assert talks.locator(".snippet mark").count() >= 1
    page.select_option("select[name=rule]", "leaders")
    page.click("form.filters button")
    assert page.locator("article.match .rule").all_inner_texts() == ["leaders"]
    page.goto(daemon.url("/?refresh=0"))
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    assert watch.events == []


def test_story_page_opens_with_timeline(browser: Any, daemon: Daemon, shots: Path) -> None:
    page, watch = new_page(browser, viewport={"width": 1200, "height": 900})
    page.goto(daemon.url("/?refresh=0"))
    page.click("text=Karabakh peace talks resume in Brussels")
    page.wait_for_url("**/story/*")
    assert "Karabakh peace talks resume in Brussels" in page.locator("h1").inner_text()
    assert page.locator("h1 mark").count() >= 1
    assert page.locator(".body mark").count() >= 1
    assert "wire-one" in page.locator("section", has_text="Timeline").inner_text()
    assert "sent" in page.locator("section", has_text="Deliveries").inner_text()
    page.screenshot(path=str(shots / "story.png"), full_page=True)
    assert watch.events == []


def test_backtest_runs_from_the_rules_page(browser: Any, daemon: Daemon, shots: Path) -> None:
    page, watch = new_page(browser, viewport={"width": 1200, "height": 900})
    page.goto(daemon.url("/rules"))
    assert page.locator("table td", has_text="karabakh-talks").count() >= 1
    page.fill("textarea[name=query]", "Karabakh AND Brussels")
    page.fill("input[name=days]", "30")
    page.click("form.backtest button")
    result = page.locator("#backtest-result")
    result.wait_for()
    assert result.inner_text().startswith("1 hit(s)")
    assert "Karabakh peace talks resume in Brussels" in page.locator("ul.hits").inner_text()
    assert page.locator("ul.near li").count() >= 1  # Karabakh without Brussels
    page.screenshot(path=str(shots / "rules.png"), full_page=True)
    page.fill("textarea[name=query]", "karabakh and talks")
    page.click("form.backtest button")
    assert "query:" in page.locator("p.error").inner_text()
    assert [e for e in watch.events if not e.startswith("console: Failed to load resource")] == []


def test_hostile_titles_and_links_execute_nothing(
    browser: Any, daemon: Daemon, shots: Path
) -> None:
    page, watch = new_page(browser, viewport={"width": 1200, "height": 900})
    for path in ("/?refresh=0", f"/story/{daemon.hostile_id}", "/search?q=karabakh", "/deliveries"):
        page.goto(daemon.url(path))
        page.mouse.move(10, 10)
        page.mouse.move(300, 300)  # hover handlers, had any survived
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        assert all(h.startswith(("http://", "https://")) for h in hrefs), hrefs
        assert page.locator("script").count() == 0
        assert page.locator("[onerror], [onload], [onmouseover]").count() == 0
        assert page.locator("img, svg:not(.spark)").count() == 0
    page.goto(daemon.url(f"/story/{daemon.hostile_id}"))
    assert "<script>alert('db-script')</script>" in page.locator("h1").inner_text()  # shown as text
    page.goto(daemon.url("/?refresh=0"))
    card = page.locator("article.match", has_text="hostile headline")
    assert card.count() == 1 and card.locator("a", has_text="original").count() == 0
    assert watch.events == []


def test_phone_width_and_other_pages(browser: Any, daemon: Daemon, shots: Path) -> None:
    page, watch = new_page(
        browser, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    for path, name in (("/?refresh=0", "dashboard-phone"), ("/feeds", "feeds-phone")):
        page.goto(daemon.url(path))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"{path} scrolls sideways on a phone ({width}px)"
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page, _ = new_page(browser, viewport={"width": 1200, "height": 900})
    page.goto(daemon.url("/feeds"))
    assert page.locator("td.status-ok").count() == 3 and page.locator("svg.spark").count() == 3
    page.screenshot(path=str(shots / "feeds.png"), full_page=True)
    page.goto(daemon.url("/deliveries"))
    page.screenshot(path=str(shots / "deliveries.png"), full_page=True)
    assert watch.events == []
