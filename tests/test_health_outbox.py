"""Feed-health alerts go through the one outbox: queued with the feed's new health, listed by
`watcher deliveries`, and sent by the one sender with its retries, quiet hours and rate limits,
to a real receiver. Marked `db`: runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import FeedServer, Receiver, run_watcher
from tests.test_polling_server import T0, Poller, rss
from watcher.config import Config, parse_config
from watcher.notify.sender import deliver_due
from watcher.store.outbox import list_deliveries


def health_config(tmp_path: Path, database_url: str, feed_url: str, notifier: str) -> Config:
    text = (
        f"database: {database_url}\n"
        "polling:\n  interval: 5m\n  timeout: 2s\n  host_gap: 0s\n"
        "  allow_private_addresses: true\n"
        "  health_notify: [ops]\n  health_threshold: 1h\n"
        f'feeds:\n  - {{name: wire, url: "{feed_url}", extract: false}}\n'
        f"notifiers:\n  ops: {notifier}\n"
    )
    (tmp_path / "w.yaml").write_text(text, encoding="utf-8")
    return parse_config(str(tmp_path / "w.yaml"), text, {})


@pytest.fixture
def failing_feed(feed_server: FeedServer) -> str:
    feed_server.add("/f", rss(["a"]), "application/rss+xml", status=500)
    return feed_server.url("/f")


@pytest.fixture
def pollers() -> Iterator[list[Poller]]:
    made: list[Poller] = []
    yield made
    for p in made:
        p.store.close()


def fail_past_threshold(config: Config, pollers: list[Poller]) -> Poller:
    p = Poller(config)
    pollers.append(p)
    for step in (0, 1800, 1800):  # fails at 0, 30m, 1h: the 1h threshold is reached
        p.poll("wire", after=step)
    return p


def deliver(p: Poller) -> tuple[int, int]:
    return asyncio.run(deliver_due(p.store, p.config, lambda: p.now, rnd=lambda: 0.5))


def test_failing_feed_alert_is_listed_retried_and_sent_once(
    tmp_path: Path,
    database_url: str,
    failing_feed: str,
    receiver: Receiver,
    pollers: list[Poller],
) -> None:
    config = health_config(tmp_path, database_url, failing_feed, f'["{receiver.apprise_url}"]')
    p = fail_past_threshold(config, pollers)
    cfg = str(tmp_path / "w.yaml")

    listed = run_watcher("deliveries", "--json", "-c", cfg)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["kind"], r["status"], r["notifier"], r["url"]) for r in rows] == [
        ("health", "pending", "ops", None)
    ]
    assert rows[0]["title"] == "[watcher] feed wire has been failing for 1h"

    receiver.fail_with = 503  # the sender's retry with backoff, as for story alerts
    assert deliver(p) == (0, 1)
    (d,) = list_deliveries(p.store)
    assert (d.status, d.attempts) == ("pending", 1) and "503" in (d.last_error or "")
    assert d.next_attempt_at > p.now
    receiver.fail_with = None
    assert deliver(p) == (0, 0)  # not due yet
    p.now = d.next_attempt_at
    assert deliver(p) == (1, 0)
    assert deliver(p) == (0, 0)
    p.poll("wire", after=300)  # still failing: told once per episode
    p.now += timedelta(hours=6)
    assert deliver(p) == (0, 0)

    assert [a["title"] for a in receiver.alerts] == ["[watcher] feed wire has been failing for 1h"]
    assert "server error (HTTP status 500)" in receiver.alerts[0]["message"]
    text = run_watcher("deliveries", "-c", cfg)
    assert text.returncode == 0, text.stderr
    first = text.stdout.splitlines()[0]
    assert " sent " in first and " health " in first and "ops[0]" in first


def test_quiet_hours_and_rate_limits_hold_health_alerts_too(
    tmp_path: Path,
    database_url: str,
    failing_feed: str,
    receiver: Receiver,
    pollers: list[Poller],
) -> None:
    quiet = f'{{urls: ["{receiver.apprise_url}"], quiet_hours: {{start: "06:30", end: "08:00"}}}}'
    p = fail_past_threshold(health_config(tmp_path, database_url, failing_feed, quiet), pollers)
    assert p.now == T0 + timedelta(hours=1)  # 07:00 UTC, inside the quiet window
    assert deliver(p) == (0, 0)
    (d,) = list_deliveries(p.store)
    assert d.status == "pending" and "quiet hours" in (d.last_error or "")
    assert receiver.alerts == []
    p.now = T0 + timedelta(hours=2)
    assert deliver(p) == (1, 0)
    assert len(receiver.alerts) == 1


def test_one_rate_limit_per_target_spaces_health_alerts(
    tmp_path: Path,
    database_url: str,
    failing_feed: str,
    feed_server: FeedServer,
    receiver: Receiver,
    pollers: list[Poller],
) -> None:
    limited = f'{{urls: ["{receiver.apprise_url}"], rate_limit: 1/2h}}'
    p = fail_past_threshold(health_config(tmp_path, database_url, failing_feed, limited), pollers)
    assert deliver(p) == (1, 0)
    feed_server.routes["/f"].status = 200
    p.poll("wire", after=1800)  # recovered half an hour after the first alert went out
    assert deliver(p) == (0, 0)
    waiting = list_deliveries(p.store, "pending")
    assert len(waiting) == 1 and "rate limit 1/7200s" in (waiting[0].last_error or "")
    p.now = waiting[0].next_attempt_at
    assert deliver(p) == (1, 0)
    assert [a["title"] for a in receiver.alerts] == [
        "[watcher] feed wire has been failing for 1h",
        "[watcher] feed wire is working again",
    ]
