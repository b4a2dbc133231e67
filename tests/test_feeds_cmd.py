"""Hostile and broken feeds in one `watcher run --once`: each ends as that feed's recorded error,
in words, within the deadline, while the healthy feed is polled and alerted; `watcher feeds`
then shows every fault."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

from tests.conftest import FeedServer, Receiver, Route, run_watcher, write_config

GOOD = """<?xml version="1.0"?><rss version="2.0"><channel><title>Good wire</title>
<link>http://example.org/</link><description>d</description>
<item><title>Karabakh peace talks resume in Brussels</title><link>http://example.org/talks</link>
<guid isPermaLink="false">good-1</guid><description>Delegations met.</description></item>
<item><title>Markets close higher</title><link>http://example.org/markets</link>
<guid isPermaLink="false">good-2</guid><description>Stocks rose.</description></item>
</channel></rss>"""

FAULTS = {
    "stalled": "no complete response within 2s",
    "trickle": "no complete response within 2s",
    "huge": "exceeds the 1048576-byte limit",
    "bomb": "exceeds the 1048576-byte limit (after decoding)",
    "loop": "more than 5 redirects",
    "broken": "server error (HTTP status 500)",
    "limited": "rate limited (429); the server asked to wait 10m (Retry-After)",
    "gone": "gone (410): the publisher removed this feed",
    "notafeed": "not a feed",
}


def serve_faults(server: FeedServer) -> dict[str, str]:
    server.add("/good", GOOD, "application/rss+xml")
    server.routes["/stalled"] = Route(GOOD.encode(), delay=8)
    server.routes["/trickle"] = Route(GOOD.encode(), trickle=1.0)
    server.routes["/huge"] = Route(b"<rss>" + b" " * 60_000_000)
    server.routes["/bomb"] = Route(
        gzip.compress(b" " * 20_000_000), 200, {"Content-Encoding": "gzip"}
    )
    server.routes["/loop"] = Route(b"", 302, {"Location": "/loop"})
    server.routes["/broken"] = Route(b"oops", 500)
    server.routes["/limited"] = Route(b"", 429, {"Retry-After": "600"})
    server.routes["/gone"] = Route(b"", 410)
    server.add("/notafeed", "<html><body>hello</body></html>")
    return {name: server.url(f"/{name}") for name in ("good", *FAULTS)}


def test_faults_are_per_feed_errors_in_words_and_the_good_feed_alerts(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    urls = serve_faults(feed_server)
    cfg = write_config(
        tmp_path / "w.yaml",
        database=f"sqlite:///{tmp_path / 'w.db'}",
        polling={
            "timeout": "2s",
            "max_bytes": "1MB",
            "host_gap": "0s",
            "per_host": 16,
            "concurrency": 16,
        },
        feeds={n: {"url": u, "extract": False} for n, u in urls.items()},
        notifiers={"hook": [receiver.apprise_url]},
        rules=[{"name": "talks", "query": "Karabakh AND talks", "notify": ["hook"]}],
    )
    result = run_watcher("run", "--once", "-c", str(cfg), timeout=60)
    assert result.returncode == 0, result.stderr
    assert [a["title"] for a in receiver.alerts] == [
        "[talks] Karabakh peace talks resume in Brussels"
    ]
    for name in FAULTS:
        assert f"feed={name} status=" in result.stderr

    listed = run_watcher("feeds", "--json", "-c", str(cfg))
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert list(rows) == ["good", *FAULTS]
    good = rows["good"]
    assert good["status"] == "ok" and good["stories_seen"] == 2 and good["last_success"]
    assert good["consecutive_errors"] == 0 and good["last_error"] is None
    for name, words in FAULTS.items():
        row = rows[name]
        assert words in (row["last_error"] or ""), (name, row["last_error"])
        assert row["last_success"] is None and row["stories_seen"] == 0
        if name == "gone":
            assert row["status"] == "disabled" and row["disabled"] and row["next_poll"] is None
        else:
            assert row["status"] == "failing" and row["consecutive_errors"] == 1
            assert row["next_poll"] > row["last_polled"]
    limited = rows["limited"]
    wait = datetime.fromisoformat(limited["next_poll"]) - datetime.fromisoformat(
        limited["last_polled"]
    )
    assert wait.total_seconds() >= 600  # Retry-After honoured

    text = run_watcher("feeds", "-c", str(cfg))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split()[:2] == ["FEED", "STATUS"]
    assert any(line.startswith("good ") and " ok " in line for line in lines)
    assert any("gone (410)" in line for line in lines)
    assert any("more than 5 redirects" in line for line in lines)
