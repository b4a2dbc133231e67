"""Delivery of the outbox against real receivers on loopback, with an injected clock."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Receiver, run_watcher
from watcher.config import Config, QuietHours, parse_config
from watcher.model import AlertStory, NewStory
from watcher.notify.alerts import build_alerts
from watcher.notify.policy import digest_due, quiet_until, rate_wait, retry_at
from watcher.notify.sender import deliver_due, send_digests
from watcher.rules import Document, RuleSet
from watcher.store import Store, sync_feeds
from watcher.store.feeds import FeedUpdate
from watcher.store.outbox import list_deliveries, retry
from watcher.store.stories import StoryToSave, save_poll

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BOT_TOKEN = "123456789:AAEexampleTOKENabcdefghijklmnopqrstu"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def _make(db: str, tmp_path: Path, notifiers: str, rules: str = "") -> tuple[Config, Store]:
    text = f"""
database: {db}
feeds:
  - {{name: wire, url: "http://127.0.0.1:9/feed"}}
notifiers:
{notifiers}
rules:
{rules or "  - {name: karabakh, any: [Karabakh], notify: [desk]}"}
"""
    config = parse_config(str(tmp_path / "w.yaml"), text, {})
    store = Store(config.database)
    store.create_schema()
    sync_feeds(store, config.feeds, T0, 300)
    return config, store


Maker = Callable[..., tuple[Config, Store]]


@pytest.fixture
def make() -> Iterator[Maker]:
    """Builds a config and store for a test, and closes the store afterwards."""
    stores: list[Store] = []

    def build(*args: Any) -> tuple[Config, Store]:
        config, store = _make(*args)
        stores.append(store)
        return config, store

    yield build
    for store in stores:
        store.close()


def add_stories(
    config: Config, store: Store, titles: list[str], now: datetime, n0: int = 0
) -> None:
    rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
    items = []
    for i, title in enumerate(titles, start=n0):
        story = NewStory(
            feed="wire",
            key=f"guid:{i}",
            guid=str(i),
            url=f"https://example.org/{i}",
            canonical_url=f"https://example.org/{i}",
            title=title,
            summary="",
            body="",
            body_source="feed",
            language="en",
            search_text=title.lower(),
            content_hash=f"h{i}",
            published_at=now,
            first_seen_at=now,
        )
        matches = tuple(rules.match(Document(title=title)))
        alerts = build_alerts(
            config,
            AlertStory(
                title=title,
                url=story.url,
                feed="wire",
                published_at=now,
                language="en",
                summary="",
            ),
            matches,
            now,
        )
        items.append(StoryToSave(story=story, matches=matches, alerts=alerts))
    save_poll(
        store, "wire", FeedUpdate(polled_at=now, next_poll_at=now, status=200, error=None), items
    )


def counts(store: Store) -> dict[str, int]:
    """Deliveries per status."""
    found: dict[str, int] = {}
    for d in list_deliveries(store, limit=10_000):
        found[d.status] = found.get(d.status, 0) + 1
    return found


def deliver(store: Store, config: Config, clock: Clock) -> tuple[int, int]:
    return asyncio.run(deliver_due(store, config, clock, rnd=lambda: 0.5))


def test_failing_target_does_not_hold_back_or_duplicate_the_healthy_one(
    tmp_path: Path, receiver: Receiver, database_url: str, make: Maker
) -> None:
    bad = Receiver()
    bad.thread.start()
    try:
        bad.fail_with = 500
        config, store = make(
            database_url, tmp_path, f'  desk: ["{receiver.apprise_url}", "{bad.apprise_url}"]'
        )
        clock = Clock(T0)
        add_stories(config, store, ["Karabakh talks one", "Karabakh talks two"], T0)
        assert deliver(store, config, clock) == (2, 2)
        assert sorted(a["title"] for a in receiver.alerts) == [
            "[karabakh] Karabakh talks one",
            "[karabakh] Karabakh talks two",
        ]
        assert bad.alerts == []
        assert deliver(store, config, clock) == (0, 0)  # nothing due until the backoff passes
        clock.advance(seconds=40)
        assert deliver(store, config, clock) == (0, 2)  # still failing: attempt 2
        failed = [d for d in list_deliveries(store) if d.last_error]
        assert len(failed) == 2 and all(
            d.attempts == 2 and "500" in (d.last_error or "") for d in failed
        )
        bad.fail_with = None
        clock.advance(seconds=30)
        assert deliver(store, config, clock) == (0, 0)  # second backoff is 60 s (±20 %)
        clock.advance(seconds=60)
        assert deliver(store, config, clock) == (2, 0)
        assert len(bad.alerts) == 2 and len(receiver.alerts) == 2  # healthy target never re-sent
        assert counts(store) == {"sent": 4}
    finally:
        bad.httpd.shutdown()
        bad.httpd.server_close()


def test_dead_after_max_attempts_then_retry_command(
    tmp_path: Path, receiver: Receiver, database_url: str, make: Maker
) -> None:
    receiver.fail_with = 503
    config, store = make(
        database_url, tmp_path, f'  desk: {{urls: ["{receiver.apprise_url}"], max_attempts: 2}}'
    )
    clock = Clock(T0)
    add_stories(config, store, ["Karabakh border"], T0)
    deliver(store, config, clock)
    clock.advance(hours=1)
    deliver(store, config, clock)
    assert counts(store) == {"dead": 1}
    cfg = tmp_path / "w.yaml"
    cfg.write_text(f"database: {database_url}\n", encoding="utf-8")
    listed = run_watcher("deliveries", "--status", "dead", "--json", "-c", str(cfg))
    row = json.loads(listed.stdout)
    assert row["status"] == "dead" and row["attempts"] == 2 and "503" in row["last_error"]
    assert (
        "1 delivery requeued"
        in run_watcher("deliveries", "retry", "--all-dead", "-c", str(cfg)).stdout
    )
    receiver.fail_with = None
    assert deliver(store, config, clock) == (1, 0)
    assert retry(store, all_dead=True) == 0  # a sent delivery is never requeued


def test_quiet_hours_hold_alerts_and_high_priority_bypasses(
    tmp_path: Path, receiver: Receiver, database_url: str, make: Maker
) -> None:
    config, store = make(
        database_url,
        tmp_path,
        f'  desk: {{urls: ["{receiver.apprise_url}"], quiet_hours: {{start: "22:00", end: "07:00", timezone: Asia/Baku}}}}',
        "  - {name: karabakh, any: [Karabakh], notify: [desk]}\n  - {name: urgent, any: [ceasefire], priority: high, notify: [desk]}",
    )
    night = datetime(2026, 11, 28, 20, 30, tzinfo=UTC)  # 00:30 in Baku (UTC+4)
    clock = Clock(night)
    add_stories(config, store, ["Karabakh talks at night", "Ceasefire broken"], night)
    assert deliver(store, config, clock) == (1, 0)
    assert [a["title"] for a in receiver.alerts] == ["[urgent] Ceasefire broken"]
    clock.now = datetime(2026, 11, 29, 2, 59, tzinfo=UTC)  # 06:59 Baku
    assert deliver(store, config, clock) == (0, 0)
    clock.now = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # 07:00 Baku: window over
    assert deliver(store, config, clock) == (1, 0)
    assert receiver.alerts[-1]["title"] == "[karabakh] Karabakh talks at night"


def test_rate_limit_spreads_sends(
    tmp_path: Path, receiver: Receiver, database_url: str, make: Maker
) -> None:
    config, store = make(
        database_url, tmp_path, f'  desk: {{urls: ["{receiver.apprise_url}"], rate_limit: 2/1m}}'
    )
    clock = Clock(T0)
    add_stories(config, store, [f"Karabakh update {i}" for i in range(5)], T0)
    assert deliver(store, config, clock)[0] == 2
    clock.advance(seconds=30)
    assert deliver(store, config, clock)[0] == 0
    clock.advance(seconds=31)
    assert deliver(store, config, clock)[0] == 2
    clock.advance(seconds=61)
    assert deliver(store, config, clock)[0] == 1
    assert len(receiver.alerts) == 5


def test_digest_gathers_alerts_into_one_message(
    tmp_path: Path, receiver: Receiver, database_url: str, make: Maker
) -> None:
    config, store = make(
        database_url,
        tmp_path,
        f'  desk: {{urls: ["{receiver.apprise_url}"], digest: 30m}}',
        "  - {name: karabakh, any: [Karabakh], notify: [desk]}\n  - {name: urgent, any: [ceasefire], priority: high, notify: [desk]}",
    )
    clock = Clock(T0)
    add_stories(
        config, store, ["Karabakh one", "Karabakh two", "Karabakh three", "Ceasefire broken"], T0
    )
    assert deliver(store, config, clock) == (1, 0)  # only the high-priority alert goes now
    clock.advance(minutes=10)
    assert asyncio.run(send_digests(store, config, clock)) == 0
    clock.advance(minutes=21)
    assert asyncio.run(send_digests(store, config, clock)) == 3
    digest = receiver.alerts[-1]
    assert digest["title"] == "watcher digest: 3 alerts"
    assert all(t in digest["message"] for t in ("Karabakh one", "Karabakh two", "Karabakh three"))
    assert asyncio.run(send_digests(store, config, clock)) == 0
    assert counts(store) == {"sent": 4}


# -- a fake Telegram Bot API ----------------------------------------------------------------


class FakeTelegram:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.mode = "ok"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(
                    self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}"
                )
                if outer.mode == "429":
                    self._answer(
                        429,
                        {
                            "ok": False,
                            "error_code": 429,
                            "description": "Too Many Requests: retry after 3",
                            "parameters": {"retry_after": 3},
                        },
                    )
                elif outer.mode == "400":
                    self._answer(
                        400,
                        {
                            "ok": False,
                            "error_code": 400,
                            "description": "Bad Request: chat not found",
                        },
                    )
                else:
                    outer.messages.append({"path": self.path, **payload})
                    self._answer(200, {"ok": True, "result": {"message_id": len(outer.messages)}})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/bot"


@pytest.fixture
def telegram(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    from apprise.plugins.telegram import NotifyTelegram

    fake = FakeTelegram()
    monkeypatch.setattr(NotifyTelegram, "notify_url", fake.url)
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


def test_telegram_html_escaped_and_429_400_retried(
    tmp_path: Path, telegram: FakeTelegram, database_url: str, make: Maker
) -> None:
    config, store = make(database_url, tmp_path, f'  desk: ["tgram://{BOT_TOKEN}/-100123"]')
    clock = Clock(T0)
    add_stories(config, store, ["Karabakh <script>alert(1)</script> & talks"], T0)
    telegram.mode = "429"
    assert deliver(store, config, clock) == (0, 1)
    telegram.mode = "400"
    clock.advance(minutes=1)
    assert deliver(store, config, clock) == (0, 1)
    telegram.mode = "ok"
    clock.advance(minutes=2)
    assert deliver(store, config, clock) == (1, 0)
    (msg,) = telegram.messages
    assert msg["path"] == f"/bot{BOT_TOKEN}/sendMessage" and str(msg["chat_id"]) == "-100123"
    assert msg.get("parse_mode", "").upper() == "HTML"
    assert "&lt;script&gt;" in msg["text"] and "<script>" not in msg["text"]
    assert "<b>Karabakh</b>" in msg["text"]  # the hit marked in the snippet
    errors = [d.last_error for d in list_deliveries(store)]
    assert errors == [None]


def test_debug_logs_never_show_the_bot_token(
    tmp_path: Path,
    telegram: FakeTelegram,
    capfd: pytest.CaptureFixture[str],
    database_url: str,
    make: Maker,
) -> None:
    from watcher.logs import set_secrets, setup_logging

    config, store = make(database_url, tmp_path, f'  desk: ["tgram://{BOT_TOKEN}/-100123"]')
    setup_logging("DEBUG", "text")
    set_secrets(config.secrets)
    try:
        add_stories(config, store, ["Karabakh talks"], T0)
        telegram.mode = "400"
        deliver(store, config, Clock(T0))
        telegram.mode = "ok"
        deliver(store, config, Clock(T0 + timedelta(hours=1)))
    finally:
        setup_logging("WARNING", "text")
        set_secrets(())
    out, err = capfd.readouterr()
    secret = BOT_TOKEN.split(":")[1]
    assert "sendMessage" in err or "Telegram" in err  # apprise's debug output was there
    assert secret not in out + err
    assert all(secret not in (d.last_error or "") for d in list_deliveries(store))


@pytest.mark.parametrize(
    ("attempts", "low", "high"), [(1, 24, 36), (2, 48, 72), (5, 384, 576), (20, 17280, 25920)]
)
def test_backoff_grows_with_jitter_and_caps(attempts: int, low: float, high: float) -> None:
    for rnd in (0.0, 0.5, 0.999):
        at = retry_at(T0, attempts, 100, rnd)
        assert at is not None and low <= (at - T0).total_seconds() <= high
    assert retry_at(T0, 12, 12, 0.5) is None


def test_quiet_window_across_midnight_in_a_time_zone() -> None:
    q = QuietHours(start="22:00", end="07:00", timezone="Asia/Baku")
    assert quiet_until(datetime(2026, 11, 28, 17, 59, tzinfo=UTC), q) is None  # 21:59 Baku
    assert quiet_until(datetime(2026, 11, 28, 18, 0, tzinfo=UTC), q) == datetime(
        2026, 11, 29, 3, 0, tzinfo=UTC
    )
    assert quiet_until(datetime(2026, 11, 29, 1, 0, tzinfo=UTC), q) == datetime(
        2026, 11, 29, 3, 0, tzinfo=UTC
    )
    assert quiet_until(datetime(2026, 11, 29, 3, 0, tzinfo=UTC), q) is None
    day = QuietHours(start="12:00", end="13:00", timezone="UTC")
    assert quiet_until(datetime(2026, 11, 28, 12, 30, tzinfo=UTC), day) == datetime(
        2026, 11, 28, 13, 0, tzinfo=UTC
    )


def test_rate_wait_and_digest_schedules() -> None:
    sent = [T0 - timedelta(seconds=s) for s in (50, 40, 10)]
    assert rate_wait(T0, sent, (3, 60)) == T0 + timedelta(seconds=10)
    assert rate_wait(T0, sent, (4, 60)) is None
    assert rate_wait(T0, sent, None) is None
    assert not digest_due("30m", None, T0, None)
    assert not digest_due("30m", T0 - timedelta(minutes=29), T0, None)
    assert digest_due("30m", T0 - timedelta(minutes=30), T0, None)
    assert digest_due("30m", None, T0, T0 - timedelta(minutes=31))
    morning = "0 8 * * *"
    assert digest_due(
        morning,
        datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
        datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        None,
    )
    assert not digest_due(
        morning,
        datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        None,
    )
