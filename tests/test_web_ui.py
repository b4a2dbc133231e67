"""The UI pages over HTTP (the browser test adds what only a browser can show): every page
answers, feed-sourced strings are escaped, links are http(s) only, forms carry CSRF tokens."""

from __future__ import annotations

import html
import re

from tests.web_support import Site, site_fixture  # noqa: F401  (the `site` fixture)


def test_every_page_answers(site: Site) -> None:
    c = site.client()
    dashboard = c.get("/")
    assert dashboard.status == 200 and 'http-equiv="refresh" content="60"' in dashboard.text
    assert "Karabakh peace talks resume in Brussels" in dashboard.text
    assert "<mark>" in dashboard.text
    assert 'http-equiv="refresh"' not in c.get("/?refresh=0").text
    assert "Pashinyan" not in c.get("/?rule=karabakh-talks").text
    story_id = c.get("/api/v1/matches?rule=leaders").json()["items"][0]["story_id"]
    story = c.get(f"/story/{story_id}")
    assert story.status == 200 and "Timeline" in story.text and "<mark>" in story.text
    assert c.get("/story/999999").status == 404
    assert c.get("/nowhere").status == 404 and "no such page" in c.get("/nowhere").text
    feeds = c.get("/feeds")
    assert feeds.status == 200 and feeds.text.count('class="spark"') == 3
    rules = c.get("/rules")
    assert rules.status == 200 and "karabakh-talks" in rules.text
    backtest = c.get("/rules?query=Karabakh+AND+Brussels&days=30")
    assert "1 hit(s)" in backtest.text
    bad = c.get("/rules?query=karabakh+and+talks")
    assert bad.status == 400 and "query:" in bad.text
    search = c.get("/search?q=commission")
    assert search.status == 200 and "border commission" in search.text
    assert "query:" in c.get("/search?q=%28commission").text
    deliveries = c.get("/deliveries")
    assert deliveries.status == 200 and "sent" in deliveries.text
    assert c.get("/static/style.css").status == 200


def test_feed_strings_are_escaped_and_links_are_http(site: Site) -> None:
    c = site.client()
    for path in ("/", "/search?q=karabakh", "/deliveries", "/feeds"):
        page = c.get(path).text
        assert "<script" not in page.lower()
        assert not re.search(r"<img|onerror=|onload=", page, re.I)
        for href in re.findall(r'href="([^"]*)"', page):
            target = html.unescape(href)
            assert target.startswith(("/", "?", "http://", "https://")), target
    hostile = next(
        m for m in c.get("/api/v1/matches").json()["items"] if "script story" in m["title"]
    )
    page = c.get(f"/story/{hostile['story_id']}").text
    assert "javascript" not in page.lower()


def test_retry_from_the_deliveries_page(site: Site) -> None:
    from sqlmodel import col, select, update

    from watcher.store.tables import DeliveryRow

    with site.store.write() as s:
        row = s.exec(select(DeliveryRow).order_by(col(DeliveryRow.id).desc())).first()
        assert row is not None
        s.execute(update(DeliveryRow).where(col(DeliveryRow.id) == row.id).values(status="dead"))
    c = site.client()
    page = c.get("/deliveries?status=dead").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token and "Retry all dead" in page
    r = c.post("/deliveries/retry", form={"csrf_token": token.group(1), "ids": str(row.id)})
    assert r.status == 303 and r.headers["location"] == "/deliveries?requeued=1"
    assert c.post("/deliveries/retry", form={"csrf_token": token.group(1)}).status == 400


def test_counts_cache_expires() -> None:
    from watcher.web.cache import TtlCache

    clock = [0.0]
    calls: list[int] = []
    cache = TtlCache(ttl=30, now=lambda: clock[0])

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get("k", compute) == 1
    clock[0] = 29.0
    assert cache.get("k", compute) == 1
    clock[0] = 30.0
    assert cache.get("k", compute) == 2
