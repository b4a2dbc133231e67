"""Hostile feed bodies, served on loopback to one real `watcher run --once`: entity expansion
(the 50 KB entity referenced 10,000 times, billion laughs), XXE, XML nested 100,000 deep, a feed
of 200,000 items, NUL bytes, lone surrogates, a lying charset, absurd dates, titles with markup,
CR/LF and 100 KB of text. Each ends as a bounded result or that feed's recorded error, the memory
of the whole run (measured from outside, by the kernel) stays bounded, and a good feed polled
alongside is stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import FeedServer, Receiver, run_watcher
from tests.hostile import run_measured

HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'


def rss(items: str, head: str = HEAD) -> str:
    return (
        f'{head}<rss version="2.0"><channel><title>t</title><link>http://example.org/</link>'
        f"<description>d</description>{items}</channel></rss>"
    )


def item(n: int | str, title: str = "", text: str = "", extra: str = "") -> str:
    title = title or f"Story {n}"
    return (
        f"<item><title>{title}</title><link>http://example.org/{n}</link>"
        f'<guid isPermaLink="false">{n}</guid>{extra}<description>{text or title}</description></item>'
    )


def hostile() -> dict[str, bytes]:
    big = "x" * 50_000
    entity = HEAD + f'<!DOCTYPE rss [\n<!ENTITY big "{big}">\n]>\n'
    laughs = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    xxe = '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return {
        "entity": rss(item(1, "Entity", "&big;" * 10_000), entity).encode(),
        "laughs": rss(item(1, "Laughs &l9;"), HEAD + f"<!DOCTYPE rss [{laughs}]>").encode(),
        "xxe": rss(item(1, "XXE &xxe;", "&xxe;"), HEAD + xxe).encode(),
        "deep": rss(item(1, extra="<x>" * 100_000 + "</x>" * 100_000)).encode(),
        "items": rss("".join(f"<item><title>{n}</title></item>" for n in range(200_000))).encode(),
        "nul": rss(item(1, "NUL\x00 byte \ud800 surrogate")).encode("utf-8", "surrogatepass"),
        # declared windows-1251, actually UTF-8 with invalid sequences
        "charset": rss(item(1, "Карабах \xff\xfe"), HEAD.replace("utf-8", "windows-1251")).encode(
            "utf-8", "replace"
        )
        + b"\xff\xfe\xc3",
        "dates": rss(
            item(1, "Far future", extra="<pubDate>Sat, 01 Jan 9999 00:00:00 GMT</pubDate>")
            + item(2, "Far past", extra="<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate>")
            + item(3, "Nonsense", extra="<pubDate>99 Foo 99999999999 99:99:99 ZZZ</pubDate>")
        ).encode(),
        "titles": rss(
            item(
                1,
                "&lt;a href=&quot;https://phish.example/&quot;&gt;click&lt;/a&gt; [x](https://p.example)",
            )
            + item(2, "Line one\r\nSubject: injected\r\n")
            + item(3, "Long " + "w" * 100_000)
        ).encode(),
    }


# workers: 0 parses in the daemon's own threads, so the kernel's peak-memory figure for the
# process covers the parsing (worker processes are bounded on their own: test_hostile_workers)
CONFIG = """
database: sqlite:///{db}
polling: {{timeout: 20s, host_gap: 0s, allow_private_addresses: true, workers: 0}}
feeds:
{feeds}
"""


def test_hostile_feeds_are_bounded_recorded_and_the_good_feed_is_stored(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    urls = {"good": feed_server.add("/good", rss(item("g1", "A good story")), "text/xml")}
    for name, body in hostile().items():
        urls[name] = feed_server.add(f"/{name}", body, "application/rss+xml")
    page = feed_server.add("/page", "<html><body>" + "<p>Karabakh talks.</p>" * 750_000)
    big = rss(
        item("p1", "A 15 MB page", extra=f"<link>{page}</link>").replace(
            "<link>http://example.org/p1</link>", ""
        )
    )
    urls["bigpage"] = feed_server.add("/bigpage", big, "application/rss+xml")
    lines = "\n".join(
        f'  - {{name: {n}, url: "{u}", extract: {str(n == "bigpage").lower()}}}'
        for n, u in urls.items()
    )
    cfg = tmp_path / "w.yaml"
    cfg.write_text(CONFIG.format(db=tmp_path / "w.db", feeds=lines), encoding="utf-8")

    result = run_measured("run", "--once", "-c", str(cfg), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # entity expansion alone took 1.5 GB and 10-30 CPU seconds before the bound
    assert result.peak_mb < 700, result.peak_mb
    assert result.cpu_seconds < 60, result.cpu_seconds

    listed = run_watcher("feeds", "--json", "-c", str(cfg))
    rows = {r["name"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert "nested more than 256 deep" in (rows["deep"]["last_error"] or "")
    for name in (
        "good",
        "entity",
        "laughs",
        "xxe",
        "items",
        "nul",
        "charset",
        "dates",
        "titles",
        "bigpage",
    ):
        assert rows[name]["last_error"] is None, (name, rows[name]["last_error"])

    db = sqlite3.connect(tmp_path / "w.db")
    stories = {
        (feed, title): (summary, published)
        for feed, title, summary, published in db.execute(
            "SELECT feed, title, summary, published_at FROM stories"
        )
    }
    by_feed: dict[str, list[str]] = {}
    for feed, title in stories:
        by_feed.setdefault(feed, []).append(title)
    assert by_feed["good"] == ["A good story"]
    assert len(by_feed["items"]) == 1000  # the first thousand, the rest cut before parsing
    ((entity_summary, _),) = [v for k, v in stories.items() if k[0] == "entity"]
    assert len(entity_summary) <= 200_000 and "x" * 1000 not in entity_summary
    assert by_feed["laughs"] == ["Laughs &l9;"] or all(
        "lol" * 100 not in t for t in by_feed["laughs"]
    )
    for (_feed, title), (summary, _) in stories.items():
        assert "root:" not in title + summary  # no external entity was read
        assert "\x00" not in title and "\r" not in title and len(title) <= 2_000
    assert any(t.startswith("NUL byte") for t in by_feed["nul"])
    assert len(by_feed["charset"]) == 1
    dated = {k[1]: v[1] for k, v in stories.items() if k[0] == "dates"}
    assert dated["Far past"] is None and dated["Nonsense"] is None
    assert dated["Far future"] is not None and dated["Far future"] < "2100"
    assert len(by_feed["titles"]) == 3
    ((body_source,),) = db.execute("SELECT body_source FROM stories WHERE feed = 'bigpage'")
    assert body_source == "feed"  # the page was over the 10 MB cap: the feed's text stands in
