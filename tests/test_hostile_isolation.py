"""One bad item or one broken template never stops a cycle: `watcher run --once` against loopback
feeds, where one item has a malformed link and one rule's template fails on undated stories,
stores every other item and every other feed, exits 0, and records why."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import FeedServer, Receiver, run_watcher

ITEM = """<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>
{date}<description>{text}</description></item>"""


def rss(*items: str) -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<link>http://example.org/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def item(n: str, title: str, link: str, dated: bool = True) -> str:
    date = "<pubDate>Sat, 28 Nov 2026 05:00:00 GMT</pubDate>" if dated else ""
    return ITEM.format(title=title, link=link, guid=n, date=date, text=f"{title}, said sources.")


CONFIG = """
database: sqlite:///{db}
polling: {{timeout: 5s, host_gap: 0s, allow_private_addresses: true}}
feeds:
{feeds}
notifiers:
  hook: ["{hook}"]
rules:
  - name: talks
    query: 'Karabakh AND talks'
    notify: [hook]
{template}
"""


def write(tmp_path: Path, receiver: Receiver, feeds: dict[str, str], template: str = "") -> Path:
    lines = "\n".join(f'  - {{name: {n}, url: "{u}", extract: false}}' for n, u in feeds.items())
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        CONFIG.format(
            db=tmp_path / "w.db", feeds=lines, hook=receiver.apprise_url, template=template
        ),
        encoding="utf-8",
    )
    return cfg


def feeds_json(cfg: Path) -> dict[str, dict[str, object]]:
    listed = run_watcher("feeds", "--json", "-c", str(cfg))
    assert listed.returncode == 0, listed.stderr
    return {r["name"]: r for r in map(json.loads, listed.stdout.splitlines())}


def test_a_malformed_link_skips_that_item_and_every_sibling_and_feed_is_stored(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    bad = feed_server.add(
        "/bad",
        rss(
            item("b1", "Karabakh talks: port out of range", "http://example.com:99999/a"),
            item("b2", "Karabakh talks resume in Brussels", "http://example.com/b2"),
        ),
        "application/rss+xml",
    )
    good = feed_server.add(
        "/good",
        rss(item("g1", "Karabakh talks: a second round", "http://example.com/g1")),
        "application/rss+xml",
    )
    cfg = write(tmp_path, receiver, {"bad": bad, "good": good})
    result = run_watcher("run", "--once", "-c", str(cfg), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "item 'http://example.com:99999/a' skipped" in result.stderr
    assert sorted(a["title"] for a in receiver.alerts) == [
        "[talks] Karabakh talks resume in Brussels",
        "[talks] Karabakh talks: a second round",
    ]
    rows = feeds_json(cfg)
    assert rows["bad"]["stories_seen"] == 1 and rows["bad"]["status"] == "ok"
    assert rows["good"]["stories_seen"] == 1


TEMPLATE = """    template: {title: "{{ story.published_at[:10] }} {{ story.title }}"}"""


def test_a_failing_rule_template_falls_back_and_the_batch_is_stored(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    mixed = feed_server.add(
        "/mixed",
        rss(
            item("m1", "Karabakh talks, undated", "http://example.com/m1", dated=False),
            item("m2", "Karabakh talks, dated", "http://example.com/m2"),
        ),
        "application/rss+xml",
    )
    other = feed_server.add(
        "/other",
        rss(item("o1", "Karabakh talks elsewhere", "http://example.com/o1", dated=False)),
        "application/rss+xml",
    )
    cfg = write(tmp_path, receiver, {"mixed": mixed, "other": other}, TEMPLATE)
    result = run_watcher("run", "--once", "-c", str(cfg), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    titles = sorted(a["title"] for a in receiver.alerts)
    # the dated story keeps its custom title; the undated ones fall back to the default
    assert titles == [
        "2026-11-28 Karabakh talks, dated",
        "[talks] Karabakh talks elsewhere",
        "[talks] Karabakh talks, undated",
    ], result.stderr
    rows = feeds_json(cfg)
    assert rows["mixed"]["stories_seen"] == 2 and rows["other"]["stories_seen"] == 1
    assert rows["mixed"]["last_error"] is None
    listed = run_watcher("deliveries", "--json", "-c", str(cfg))
    assert listed.returncode == 0, listed.stderr
    notes = {d["title"]: d["last_error"] for d in map(json.loads, listed.stdout.splitlines())}
    why = notes["[talks] Karabakh talks, undated"] or ""
    assert "rule talks: template error" in why and "TypeError" in why
    assert "default template used" in why
    assert notes["2026-11-28 Karabakh talks, dated"] is None


def test_a_bug_in_a_stage_becomes_that_feeds_error_logged_once(
    tmp_path: Path,
    feed_server: FeedServer,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real fault injected in one feed's dedup stage (a bug, not a WatcherError): that feed
    records it, the other feed is stored, nothing escapes run_once."""
    from watcher import pipeline
    from watcher.config import load_config
    from watcher.daemon.scheduler import run_once
    from watcher.store import Store

    one = feed_server.add(
        "/one", rss(item("x1", "Karabakh talks one", "http://example.com/x1")), "text/xml"
    )
    two = feed_server.add(
        "/two", rss(item("y1", "Karabakh talks two", "http://example.com/y1")), "text/xml"
    )
    cfg = write(tmp_path, receiver, {"one": one, "two": two})
    real = pipeline._new_entries

    async def buggy(ctx: pipeline.Context, feed: object, entries: object) -> object:
        if getattr(feed, "name", "") == "one":
            raise KeyError("boom")
        return await real(ctx, feed, entries)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "_new_entries", buggy)
    config = load_config(str(cfg))
    store = Store(config.database)
    store.create_schema()
    caplog.set_level(logging.WARNING)
    now = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    reports = asyncio.run(run_once(config, store, clock=lambda: now))
    by = {r.feed: r for r in reports}
    assert by["one"].status == "error" and "internal error: KeyError" in (by["one"].error or "")
    assert by["two"].new == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "feed one" in errors[0].getMessage() and errors[0].exc_info
    rows = feeds_json(cfg)
    assert "internal error: KeyError" in str(rows["one"]["last_error"])
    assert rows["one"]["consecutive_errors"] == 1 and rows["two"]["stories_seen"] == 1


CHECKED = """database: sqlite:///{db}
feeds:
  - {{name: wire, url: "http://127.0.0.1:9/feed"}}
notifiers:
  hook:
    urls: ["json://127.0.0.1:9/x"]
    template: {{body: "{{{{ story.summary[0] }}}}"}}
rules:
  - name: fine
    any: [Karabakh]
    notify: [hook]
  - name: dated-only
    any: [talks]
    notify: [hook]
    template: {{title: "{{{{ story.published_at[:10] }}}}"}}
"""


def test_check_renders_every_template_against_sample_stories(tmp_path: Path) -> None:
    cfg = tmp_path / "w.yaml"
    cfg.write_text(CHECKED.format(db=tmp_path / "w.db"), encoding="utf-8")
    result = run_watcher("check", "-c", str(cfg))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    rule = [x for x in lines if x.startswith(f"{cfg}:15: rules[1].template: ")]
    assert rule and "TypeError" in rule[0] and "on an undated story" in rule[0], lines
    hook = [x for x in lines if x.startswith(f"{cfg}:7: notifiers.hook.template: ")]
    assert hook and "on a story with no body" in hook[0], lines
    assert not any("rules[0]" in x for x in lines)
