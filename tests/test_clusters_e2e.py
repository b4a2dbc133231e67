"""The same story from three feeds gives one alert naming the other sources; another story on the
same topic gets its own alert; `escalate_at` sends one follow-up."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FeedServer, Receiver, run_watcher, write_config
from tests.test_run_e2e import page

WIRE = [
    "Armenian and Azerbaijani foreign ministers met in Brussels on Friday for a new round of peace talks mediated by the European Union, the first such meeting since the summer.",
    "According to officials familiar with the talks, the ministers discussed the delimitation of the border, the opening of transport links through the south of Armenia and the exchange of detainees.",
    "The European Council president said after the meeting that both sides had agreed to instruct their commissions to prepare a draft text on the principles of the border before the end of the year.",
    "The talks were described by the Armenian side as difficult but constructive, while Baku said progress depended on changes to the Armenian constitution.",
    "Another meeting is expected in Washington next month, diplomats said, although no date has been announced by either government.",
]
COPIES = [  # (feed, headline, paragraphs): agencies edit the headline and drop a paragraph
    ("apa", "Azerbaijani, Armenian FMs hold peace talks in Brussels", WIRE),
    (
        "azernews",
        "Baku and Yerevan top diplomats meet in Brussels for peace talks",
        ["BRUSSELS (AzerNews) - " + WIRE[0], *WIRE[1:4]],
    ),
    (
        "armenpress",
        "Foreign ministers of Armenia and Azerbaijan hold talks in Brussels",
        [WIRE[0], WIRE[1], WIRE[2], WIRE[4]],
    ),
]
OTHER = (
    "apa",
    "Karabakh: returning residents receive new apartments in Shusha",
    [
        "More than two hundred families received the keys to new apartments in Shusha on Saturday under the state programme for the return of former residents to the Karabakh region.",
        "The officials who attended the ceremony said that schools and a hospital would open in the town next spring, and that a further thousand homes were being built in nearby villages.",
    ],
)


def serve(server: FeedServer, copies: list[tuple[str, str, list[str]]]) -> dict[str, str]:
    per_feed: dict[str, list[tuple[str, str]]] = {}
    for i, (feed, title, paras) in enumerate(copies):
        path = f"/{feed}/{i}.html"
        server.add(path, page(title, paras))
        per_feed.setdefault(feed, []).append((title, path))
    urls = {}
    for feed, items in per_feed.items():
        rss = "".join(
            f"<item><title>{t}</title><link>{server.url(p)}</link><guid>{p}</guid></item>"
            for t, p in items
        )
        urls[feed] = server.add(
            f"/{feed}.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{feed}</title>{rss}</channel></rss>',
            "application/rss+xml",
        )
    return urls


def test_one_alert_per_story_cluster(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, database_url: str
) -> None:
    urls = serve(feed_server, [*COPIES, OTHER])
    cfg = write_config(
        tmp_path / "w.yaml",
        database=database_url,
        polling={"timeout": "10s"},
        feeds=dict(urls),
        notifiers={"hook": [receiver.apprise_url]},
        rules=[
            {"name": "talks", "any": ["talks", "Karabakh"], "notify": ["hook"], "escalate_at": 3}
        ],
    )
    result = run_watcher("run", "--once", "-c", str(cfg))
    assert result.returncode == 0, result.stderr
    titles = sorted(a["title"].split("] ", 1)[1] for a in receiver.alerts)
    # One alert for the wire story (whichever copy was stored first), one for the other story,
    # and one escalation when the third agency carried the wire story.
    wire_titles = {c[1] for c in COPIES}
    assert len(receiver.alerts) == 3, titles
    assert OTHER[1] in titles
    assert sum(t in wire_titles for t in titles) == 1
    assert sum(t.startswith("3 sources: ") and t[11:] in wire_titles for t in titles) == 1
    wire_alerts = [a for a in receiver.alerts if OTHER[1] not in a["title"]]
    for alert in wire_alerts:
        assert "Also reported by:" in alert["message"]
        named = alert["message"].split("Also reported by:")[1].splitlines()[0]
        assert sum(f in named for f in ("apa", "azernews", "armenpress")) == 2
    other = next(a for a in receiver.alerts if OTHER[1] in a["title"])
    assert "Also reported by" not in other["message"]

    listed = [
        json.loads(x) for x in run_watcher("matches", "--json", "-c", str(cfg)).stdout.splitlines()
    ]
    assert len(listed) == 2
    wire = next(m for m in listed if m["title"] in wire_titles)
    assert sorted([wire["feed"], *wire["sources"]]) == ["apa", "armenpress", "azernews"]

    again = run_watcher("run", "--once", "-c", str(cfg))
    assert again.returncode == 0 and len(receiver.alerts) == 3
