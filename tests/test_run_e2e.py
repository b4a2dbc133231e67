"""`watcher run --once` as a subprocess against loopback feeds, pages and a webhook receiver."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FeedServer, Receiver, run_watcher

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Wire One</title><link>{base}/</link>
<description>test wire</description>
<item><title>Karabakh peace talks resume in Brussels</title><link>{base}/a/talks.html?utm_source=rss</link>
<guid isPermaLink="false">wire1-001</guid><pubDate>Sat, 28 Nov 2026 05:00:00 GMT</pubDate>
<description>Delegations met on Friday.</description></item>
<item><title>Baku weather: rain expected this weekend</title><link>{base}/a/weather.html</link>
<guid isPermaLink="false">wire1-002</guid><pubDate>Sat, 28 Nov 2026 05:10:00 GMT</pubDate>
<description>Forecasters expect showers.</description></item>
<item><title>Markets close higher</title><link>{base}/a/markets.html</link>
<guid isPermaLink="false">wire1-003</guid><pubDate>Sat, 28 Nov 2026 05:20:00 GMT</pubDate>
<description>Stocks rose.</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire Two</title><id>urn:wire2</id>
<updated>2026-11-28T05:30:00Z</updated>
<entry><title>Pashinyan and Aliyev meet on the sidelines</title><id>urn:wire2:1</id>
<link rel="alternate" href="{base}/b/meeting.html"/><updated>2026-11-28T05:30:00Z</updated>
<summary>A short meeting.</summary></entry>
<entry><title>Qarabağ FK win again</title><id>urn:wire2:2</id>
<link rel="alternate" href="{base}/b/football.html"/><updated>2026-11-28T05:31:00Z</updated>
<summary>The club beat its rivals.</summary></entry>
<entry><title>Qarabag: negotiators agree on a border commission</title><id>urn:wire2:3</id>
<link rel="alternate" href="{base}/b/border.html"/><updated>2026-11-28T05:32:00Z</updated>
<summary>Officials said the commission will meet monthly.</summary></entry>
</feed>"""

CHROME = """<header><nav><ul><li><a href="/">Home</a></li><li><a href="/k">Karabakh peace talks</a></li>
<li><a href="/p">Pashinyan</a></li></ul></nav></header>"""
RELATED = """<aside class="related"><h3>Related</h3><ul>
<li><a href="/x1">Karabakh peace talks: what next for negotiations</a></li>
<li><a href="/x2">Pashinyan speaks on Karabakh talks</a></li></ul></aside>
<footer><p>© Wire. Topics: Karabakh, talks, Pashinyan.</p></footer>"""


def page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body>{CHROME}<main><article><h1>{title}</h1>{body}</article></main>{RELATED}"
        "</body></html>"
    )


# Each page gets its own second paragraph: pages sharing whole paragraphs are near-duplicates
# and would (rightly) be clustered as one story.
FILLER = {
    "talks": "The statement was published on the ministry's website early in the morning and was read out by a spokesperson to reporters gathered outside the building.",
    "weather": "Drivers were advised to avoid mountain roads on Saturday, and the airport said some evening flights could be delayed by the storm.",
    "markets": "Traders said the rally was driven by higher oil prices and by expectations that the central bank would leave rates unchanged next month.",
    "meeting": "Neither side published a readout of the conversation, which aides said lasted about twenty minutes and touched on transport links.",
    "football": "The coach praised the defence after the match and said the squad would rest two senior players before the European fixture on Thursday.",
    "border": "The commission is to meet monthly, alternating between the two capitals, and will report to both foreign ministries by the end of the year.",
}


def serve(server: FeedServer) -> dict[str, str]:
    base = server.url("")
    urls = {
        "rss": server.add("/rss.xml", RSS.format(base=base), "application/rss+xml"),
        "atom": server.add("/atom.xml", ATOM.format(base=base), "application/atom+xml"),
    }
    server.add(
        "/a/talks.html",
        page(
            "Karabakh peace talks resume in Brussels",
            [
                "Armenian and Azerbaijani delegations resumed peace talks in Brussels on Friday, "
                "the first round of negotiations since the summer.",
                FILLER["talks"],
            ],
        ),
    )
    server.add(
        "/a/weather.html",
        page(
            "Baku weather: rain expected this weekend",
            [
                "Heavy rain is expected across the Absheron peninsula this weekend, with temperatures "
                "falling to eight degrees at night.",
                FILLER["weather"],
            ],
        ),
    )
    server.add(
        "/a/markets.html",
        page(
            "Markets close higher",
            [
                "Regional stock indices closed higher on Friday as energy shares rallied.",
                FILLER["markets"],
            ],
        ),
    )
    server.add(
        "/b/meeting.html",
        page(
            "Pashinyan and Aliyev meet on the sidelines",
            [
                "Prime Minister Nikol Pashinyan and President Ilham Aliyev met briefly on the sidelines "
                "of the summit, according to both governments.",
                FILLER["meeting"],
            ],
        ),
    )
    server.add(
        "/b/football.html",
        page(
            "Qarabağ FK win again",
            [
                "Qarabağ beat their rivals 3-1 in the football league, keeping peace at the top of the "
                "table after talks of a crisis at the club.",
                FILLER["football"],
            ],
        ),
    )
    server.add(
        "/b/border.html",
        page(
            "Qarabag: negotiators agree on a border commission",
            [
                "Negotiators from both sides agreed to set up a border commission, officials said, "
                "describing the talks as constructive.",
                FILLER["border"],
            ],
        ),
    )
    return urls


CONFIG = """
database: {db}
polling:
  interval: 5m
  timeout: 10s
  allow_private_addresses: true
feeds:
  - {{name: wire-one, url: "{rss}", tags: [agency]}}
  - {{name: wire-two, url: "{atom}"}}
terms:
  karabakh: [Karabakh, Qarabag, Karabağ, Artsakh]
notifiers:
  hook: ["{hook}"]
rules:
  - name: karabakh-talks
    query: '@karabakh AND (peace OR talks OR negotiat*) NOT football'
    notify: [hook]
  - name: leaders
    any: [Pashinyan, Paşinyan, Aliyev]
    notify: [hook]
"""


def write_config(
    tmp_path: Path, server: FeedServer, receiver: Receiver, db: str | None = None
) -> Path:
    urls = serve(server)
    cfg = tmp_path / "watcher.yaml"
    cfg.write_text(
        CONFIG.format(
            db=db or f"sqlite:///{tmp_path / 'w.db'}",
            rss=urls["rss"],
            atom=urls["atom"],
            hook=receiver.apprise_url,
        ),
        encoding="utf-8",
    )
    return cfg


def test_run_once_alerts_exactly_the_matching_stories_once(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, database_url: str
) -> None:
    cfg = write_config(tmp_path, feed_server, receiver, database_url)
    first = run_watcher("run", "--once", "-c", str(cfg))
    assert first.returncode == 0, first.stderr

    titles = sorted(a["title"] for a in receiver.alerts)
    assert titles == [
        "[karabakh-talks] Karabakh peace talks resume in Brussels",
        "[karabakh-talks] Qarabag: negotiators agree on a border commission",
        "[leaders] Pashinyan and Aliyev meet on the sidelines",
    ], first.stderr
    by_title = {a["title"]: a["message"] for a in receiver.alerts}
    talks = by_title["[karabakh-talks] Karabakh peace talks resume in Brussels"]
    assert "Rules: karabakh-talks" in talks
    assert feed_server.url("/a/talks.html") in talks  # the link, tracking parameter removed
    assert "utm_source" not in talks
    assert "wire-one" in talks and "2026-11-28 05:00 UTC" in talks
    assert "«" in talks  # a snippet with the hit marked
    # The weather story's page mentions Karabakh talks only in its nav, related box and footer.
    assert not any("weather" in a["title"].lower() for a in receiver.alerts)
    # One poll log line per feed, with status, new stories and duration.
    poll_lines = [ln for ln in first.stderr.splitlines() if "poll feed=" in ln]
    assert len(poll_lines) == 2 and all("new=3" in ln and "duration=" in ln for ln in poll_lines)

    second = run_watcher("run", "--once", "-c", str(cfg))
    assert second.returncode == 0, second.stderr
    assert len(receiver.alerts) == 3

    listed = run_watcher("matches", "--json", "-c", str(cfg))
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted((r["rule"], r["title"]) for r in rows) == [
        ("karabakh-talks", "Karabakh peace talks resume in Brussels"),
        ("karabakh-talks", "Qarabag: negotiators agree on a border commission"),
        ("leaders", "Pashinyan and Aliyev meet on the sidelines"),
    ]
    for r in rows:
        assert {"rule", "url", "title", "feed", "terms", "published_at", "matched_at"} <= r.keys()
        assert r["url"].startswith(feed_server.url("/")) and r["terms"]
    assert [r["matched_at"] for r in rows] == sorted((r["matched_at"] for r in rows), reverse=True)
    only = run_watcher("matches", "--json", "--rule", "leaders", "--since", "1h", "-c", str(cfg))
    assert [json.loads(x)["rule"] for x in only.stdout.splitlines()] == ["leaders"]


def test_a_failing_feed_does_not_stop_the_others(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, database_url: str
) -> None:
    cfg = write_config(tmp_path, feed_server, receiver, database_url)
    feed_server.routes["/rss.xml"].status = 500
    result = run_watcher("run", "--once", "-c", str(cfg))
    assert result.returncode == 0, result.stderr
    assert "feed=wire-one status=error" in result.stderr and "HTTP status 500" in result.stderr
    assert len(receiver.alerts) == 2  # wire-two's two matching stories
