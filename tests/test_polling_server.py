"""poll_feed against a loopback server that counts requests, with an injected clock."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tests.conftest import FeedServer, Receiver, Route
from watcher.config import Config, parse_config
from watcher.daemon.scheduler import run_once
from watcher.ingest import workers as offload
from watcher.ingest.fetch import Fetcher, FetchLimits
from watcher.ingest.workers import WorkerPool
from watcher.notify.sender import deliver_due
from watcher.pipeline import Context, PollReport, fetch_limits, poll_feed
from watcher.rules import RuleSet
from watcher.store import Store, feed_state, sync_feeds
from watcher.store.feeds import claim_due_feeds
from watcher.store.outbox import list_deliveries
from watcher.store.tables import FeedState

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def rss(ids: list[str], *, ttl: int | None = None, dated_every: int | None = None) -> str:
    items = []
    for i, ident in enumerate(ids):
        date = ""
        if dated_every is not None:
            when = T0 - timedelta(minutes=dated_every * i)
            date = f"<pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>"
        items.append(
            f"<item><title>Story {ident}</title><link>http://example.org/{ident}</link>"
            f"<guid isPermaLink='false'>{ident}</guid>{date}<description>About {ident}.</description></item>"
        )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl is not None else ""
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Wire</title>"
        f"<link>http://example.org/</link><description>d</description>{ttl_tag}{''.join(items)}"
        "</channel></rss>"
    )


def config_for(tmp_path: Path, feeds: dict[str, str], polling: str = "", extra: str = "") -> Config:
    lines = "\n".join(f'  - {{name: {n}, url: "{u}", extract: false}}' for n, u in feeds.items())
    text = (
        f"database: sqlite:///{tmp_path / 'w.db'}\n"
        "polling:\n  interval: 5m\n  timeout: 2s\n  max_bytes: 1MB\n  host_gap: 0s\n"
        f"  allow_private_addresses: true\n{polling}"
        f"feeds:\n{lines}\n{extra}"
    )
    return parse_config(str(tmp_path / "w.yaml"), text, {})


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts feed parses: the expensive step that unchanged feeds must skip."""
    calls: list[str] = []
    real = offload.parse_feed

    def counting(body: bytes, url: str, *a: Any, **kw: Any) -> Any:
        calls.append(url)
        return real(body, url, *a, **kw)

    monkeypatch.setattr(offload, "parse_feed", counting)  # the Poller parses in threads
    return calls


class Poller:
    def __init__(self, config: Config, now: datetime = T0) -> None:
        self.config = config
        self.now = now
        self.store = Store(config.database)
        self.store.create_schema()
        sync_feeds(self.store, config.feeds, now, config.polling.interval)

    def poll(self, name: str, after: float = 0.0, pool: WorkerPool | None = None) -> PollReport:
        self.now += timedelta(seconds=after)

        async def go() -> PollReport:
            async with Fetcher(fetch_limits(self.config)) as fetcher:
                rules = RuleSet.compile([], {})
                ctx = Context(
                    config=self.config,
                    store=self.store,
                    fetcher=fetcher,
                    rules=rules,
                    clock=lambda: self.now,
                    pool=pool or WorkerPool(rules, [], {}, workers=0),
                )
                feed = self.config.feed(name)
                assert feed is not None
                return await poll_feed(ctx, feed)

        return asyncio.run(go())

    def state(self, name: str) -> FeedState:
        row = feed_state(self.store, name)
        assert row is not None
        return row

    def delay(self, name: str) -> float:
        row = self.state(name)
        assert row.last_polled_at is not None
        return (row.next_poll_at - row.last_polled_at).total_seconds()


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    made: list[Poller] = []

    def factory(config: Config) -> Poller:
        made.append(Poller(config))
        return made[-1]

    yield factory
    for p in made:
        p.store.close()


def test_second_poll_is_conditional_and_a_304_is_not_parsed(
    tmp_path: Path, feed_server: FeedServer, make: Any, parses: list[str]
) -> None:
    feed_server.routes["/f"] = Route(
        rss(["a", "b"]).encode(), headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"}
    )
    p = make(config_for(tmp_path, {"wire": feed_server.url("/f")}))
    first = p.poll("wire")
    assert first.new == 2 and first.queued
    second = p.poll("wire", after=300)
    assert second.status == "304" and second.new == 0
    assert not second.queued  # nothing to send: no delivery pass follows it
    assert feed_server.requests[-1][1]["If-None-Match"] == '"v1"'
    assert feed_server.not_modified == 1 and len(parses) == 1
    assert p.state("wire").last_status == 304 and p.state("wire").consecutive_errors == 0


def test_an_unchanged_body_without_validators_is_not_parsed_again(
    tmp_path: Path, feed_server: FeedServer, make: Any, parses: list[str]
) -> None:
    feed_server.add("/f", rss(["a", "b"]), "application/rss+xml")
    p = make(config_for(tmp_path, {"wire": feed_server.url("/f")}))
    p.poll("wire")
    unchanged = p.poll("wire", after=300)
    assert unchanged.status == "unchanged" and not unchanged.queued
    assert feed_server.hits["/f"] == 2 and len(parses) == 1
    feed_server.add("/f", rss(["c", "a", "b"]), "application/rss+xml")
    changed = p.poll("wire", after=300)
    assert changed.new == 1 and len(parses) == 2


def test_backoff_grows_and_one_success_resets(
    tmp_path: Path, feed_server: FeedServer, make: Any
) -> None:
    feed_server.add("/f", rss(["a"]), "application/rss+xml", status=500)
    p = make(config_for(tmp_path, {"wire": feed_server.url("/f")}))
    delays = []
    for _ in range(4):
        report = p.poll("wire", after=60)
        assert report.status == "error" and "server error (HTTP status 500)" in (report.error or "")
        delays.append(p.delay("wire"))
    for got, want in zip(delays, [300, 600, 1200, 2400], strict=True):
        assert want * 0.9 <= got <= want * 1.1
    row = p.state("wire")
    assert row.consecutive_errors == 4 and row.first_error_at is not None
    assert row.last_error == "server error (HTTP status 500)"
    feed_server.routes["/f"].status = 200
    assert p.poll("wire", after=60).new == 1
    row = p.state("wire")
    assert row.consecutive_errors == 0 and row.last_error is None and row.first_error_at is None
    assert 270 <= p.delay("wire") <= 330


def test_429_and_503_wait_for_retry_after(
    tmp_path: Path, feed_server: FeedServer, make: Any
) -> None:
    feed_server.routes["/busy"] = Route(b"slow down", 429, {"Retry-After": "7200"})
    later = (T0 + timedelta(hours=3)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    feed_server.routes["/down"] = Route(b"", 503, {"Retry-After": later})
    p = make(
        config_for(tmp_path, {"busy": feed_server.url("/busy"), "down": feed_server.url("/down")})
    )
    report = p.poll("busy")
    assert report.error == "rate limited (429); the server asked to wait 2h (Retry-After)"
    assert 7200 <= p.delay("busy") <= 7200 * 1.1
    p.poll("down")
    assert 3 * 3600 <= p.delay("down") <= 3 * 3600 * 1.1
    assert "service unavailable" in (p.state("down").last_error or "")


def test_410_disables_the_feed_until_its_config_url_changes(
    tmp_path: Path, feed_server: FeedServer, make: Any
) -> None:
    feed_server.routes["/gone"] = Route(b"", 410)
    p = make(config_for(tmp_path, {"wire": feed_server.url("/gone")}))
    report = p.poll("wire")
    assert report.status == "disabled" and "gone (410)" in (report.error or "")
    row = p.state("wire")
    assert row.disabled_at is not None and "until feeds[].url changes" in (
        row.disabled_reason or ""
    )
    assert p.poll("wire", after=86400).status == "disabled"
    assert feed_server.hits["/gone"] == 1  # not asked again
    assert claim_due_feeds(p.store, "test", p.now + timedelta(days=30), ["wire"], 60) == []
    sync_feeds(p.store, p.config.feeds, p.now, 300)  # same config: still disabled
    assert p.state("wire").disabled_at is not None
    feed_server.add("/new", rss(["a"]), "application/rss+xml")
    edited = config_for(tmp_path, {"wire": feed_server.url("/new")})
    sync_feeds(p.store, edited.feeds, p.now, 300)
    p.config = edited
    assert p.state("wire").disabled_at is None
    assert p.poll("wire").new == 1


def test_301_moves_the_url_after_two_polls_and_302_never_does(
    tmp_path: Path, feed_server: FeedServer, make: Any
) -> None:
    feed_server.add("/new", rss(["a"]), "application/rss+xml")
    feed_server.routes["/old"] = Route(b"", 301, {"Location": "/new"})
    feed_server.routes["/temp"] = Route(b"", 302, {"Location": "/new"})
    cfg = config_for(tmp_path, {"moved": feed_server.url("/old"), "temp": feed_server.url("/temp")})
    p = make(cfg)
    p.poll("moved")
    row = p.state("moved")
    assert row.url == feed_server.url("/old") and row.moved_to == feed_server.url("/new")
    p.poll("moved", after=300)
    assert p.state("moved").url == feed_server.url("/new")
    p.poll("moved", after=300)
    assert feed_server.hits["/old"] == 2 and feed_server.hits["/new"] == 3
    sync_feeds(p.store, cfg.feeds, p.now, 300)  # a restart keeps the move
    assert p.state("moved").url == feed_server.url("/new")
    for _ in range(3):
        p.poll("temp", after=300)
    assert p.state("temp").url == feed_server.url("/temp") and feed_server.hits["/temp"] == 3


def test_possible_gap_when_every_item_is_new(
    tmp_path: Path, feed_server: FeedServer, make: Any
) -> None:
    feed_server.add("/f", rss(["a", "b", "c"]), "application/rss+xml")
    p = make(config_for(tmp_path, {"wire": feed_server.url("/f")}))
    p.poll("wire")
    assert p.state("wire").possible_gaps == 0  # the first poll sees everything, no gap
    feed_server.add("/f", rss(["d", "a", "b"]), "application/rss+xml")
    p.poll("wire", after=300)
    assert p.state("wire").possible_gaps == 0
    feed_server.add("/f", rss(["g", "f", "e"]), "application/rss+xml")
    p.poll("wire", after=300)
    row = p.state("wire")
    assert row.possible_gaps == 1 and row.last_gap_at is not None


def test_interval_adapts_to_ttl_rhythm_and_max_age_but_a_pinned_one_holds(
    tmp_path: Path, feed_server: FeedServer, make: Any
) -> None:
    feed_server.add("/ttl", rss(["a"], ttl=60), "application/rss+xml")
    feed_server.add(
        "/busy", rss([f"s{i}" for i in range(12)], dated_every=2), "application/rss+xml"
    )
    feed_server.routes["/cached"] = Route(
        rss(["c"]).encode(), headers={"Cache-Control": "public, max-age=1800"}
    )
    feed_server.add(
        "/pinned", rss([f"p{i}" for i in range(12)], dated_every=2), "application/rss+xml"
    )
    cfg = config_for(
        tmp_path,
        {
            "ttl": feed_server.url("/ttl"),
            "busy": feed_server.url("/busy"),
            "cached": feed_server.url("/cached"),
        },
        extra=f'  - {{name: pinned, url: "{feed_server.url("/pinned")}", interval: 2m, extract: false}}\n',
    )
    p = make(cfg)
    for name in ("ttl", "busy", "cached", "pinned"):
        p.poll(name)
    assert p.state("ttl").interval == 3600  # <ttl>60</ttl>
    assert p.state("busy").interval == 60  # a story every 2 minutes: polling.min_interval
    assert p.state("cached").interval == 1800
    assert p.state("pinned").interval == 120


def test_per_host_limit_holds_and_other_hosts_are_not_starved(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feeds = {}
    for i in range(8):
        feed_server.routes[f"/f{i}"] = Route(rss([f"x{i}"]).encode(), delay=0.3)
        feeds[f"f{i}"] = feed_server.url(f"/f{i}")
    cfg = config_for(tmp_path, feeds, polling="  per_host: 2\n")
    store = Store(cfg.database)
    store.create_schema()
    try:
        reports = asyncio.run(run_once(cfg, store, lambda: T0))
    finally:
        store.close()
    assert all(r.new == 1 for r in reports), reports
    assert feed_server.peak_in_flight == 2


def test_requests_to_one_host_are_spaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-host gap books start times; asserted on the waits requested, not on a clock."""
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(0)

    async def go() -> None:
        monkeypatch.setattr("watcher.ingest.fetch.asyncio.sleep", fake_sleep)
        fetcher = Fetcher(FetchLimits(host_gap=1.0))
        await asyncio.gather(*(fetcher._hosts.pace("a.example:") for _ in range(3)))
        await fetcher._hosts.pace("b.example:")

    asyncio.run(go())
    assert len(waits) == 2 and waits[0] == pytest.approx(1.0, abs=0.1)
    assert waits[1] == pytest.approx(2.0, abs=0.1)


def test_health_alerts_when_failing_past_the_threshold_and_on_recovery(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, make: Any
) -> None:
    feed_server.add("/f", rss(["a"]), "application/rss+xml", status=500)
    cfg = config_for(
        tmp_path,
        {"wire": feed_server.url("/f")},
        polling="  health_notify: [ops]\n  health_threshold: 1h\n",
        extra=f'notifiers:\n  ops: ["{receiver.apprise_url}"]\n',
    )
    p = make(cfg)
    for step in (0, 1800, 1800, 3600, 3600):  # fails at 0, 30m, 1h (alert), 2h, 3h
        p.poll("wire", after=step)
    feed_server.routes["/f"].status = 200
    p.poll("wire", after=3600)
    sent, failed = asyncio.run(deliver_due(p.store, cfg, lambda: p.now))
    assert (sent, failed) == (2, 0)
    titles = [a["title"] for a in receiver.alerts]
    assert titles == [
        "[watcher] feed wire has been failing for 1h",
        "[watcher] feed wire is working again",
    ]
    assert "server error (HTTP status 500)" in receiver.alerts[0]["message"]
    assert asyncio.run(deliver_due(p.store, cfg, lambda: p.now)) == (0, 0)  # sent once


def test_health_alert_when_a_busy_feed_goes_silent(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, make: Any
) -> None:
    feed_server.add("/f", rss([f"s{i}" for i in range(7)], dated_every=10), "application/rss+xml")
    cfg = config_for(
        tmp_path,
        {"wire": feed_server.url("/f")},
        polling="  health_notify: [ops]\n",
        extra=f'notifiers:\n  ops: ["{receiver.apprise_url}"]\n',
    )
    p = make(cfg)
    p.poll("wire")  # a story every 10 minutes
    assert p.state("wire").usual_gap == pytest.approx(600)
    for _ in range(6):
        p.poll("wire", after=1800)  # nothing new for 3 hours
    feed_server.add("/f", rss(["new", "s0"], dated_every=10), "application/rss+xml")
    p.poll("wire", after=600)
    listed = list_deliveries(p.store)[::-1]  # oldest first
    assert [(d.kind, d.title.split()[-1]) for d in listed] == [
        ("health", "silent"),
        ("health", "again"),
    ]
    asyncio.run(deliver_due(p.store, cfg, lambda: p.now))
    assert receiver.alerts[0]["title"] == "[watcher] feed wire has gone silent"
    assert "every 10m" in receiver.alerts[0]["message"]


def test_a_failing_feed_is_retried_when_it_reaches_the_health_threshold(
    tmp_path: Path, feed_server: FeedServer, make: Any
) -> None:
    feed_server.routes["/f"] = Route(b"", 500)
    cfg = config_for(
        tmp_path,
        {},
        polling="  health_threshold: 1h\n",
        extra=f'  - {{name: slow, url: "{feed_server.url("/f")}", interval: 2h, extract: false}}\n',
    )
    p = make(cfg)
    p.poll("slow")
    assert p.delay("slow") == pytest.approx(3601)  # not 2h: the 1h threshold comes first
    p.poll("slow", after=3601)
    assert p.state("slow").health_alerted == "failing"
    assert p.delay("slow") >= 2 * 3600 * 2 * 0.9  # then the ordinary backoff resumes


def _descendants() -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), [os.getpid()]
    while frontier:
        pid = frontier.pop()
        kids = [c for c, parent in parents.items() if parent == pid]
        found.update(kids)
        frontier += kids
    return found


def test_polls_that_parse_nothing_start_no_worker_process(
    tmp_path: Path, feed_server: FeedServer, make: Any
) -> None:
    """A worker holds ~100 MB of parsers and models: a daemon whose feeds answer 304 or an
    unchanged body starts none; the first body to parse starts them."""
    feed_server.routes["/f"] = Route(
        rss(["a"]).encode(), headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"}
    )
    feed_server.add("/g", rss(["b"]), "application/rss+xml")
    p = make(config_for(tmp_path, {"wire": feed_server.url("/f"), "plain": feed_server.url("/g")}))
    p.poll("wire")
    p.poll("plain")  # stored in threads: the pool below has not seen a body yet
    pool = WorkerPool(RuleSet.compile([], {}), [], {}, workers=1)
    try:
        before = _descendants()
        assert p.poll("wire", after=300, pool=pool).status == "304"
        assert p.poll("plain", after=300, pool=pool).status == "unchanged"
        assert _descendants() == before
        feed_server.routes["/f"] = Route(
            rss(["c", "a"]).encode(),
            headers={"ETag": '"v2"', "Content-Type": "application/rss+xml"},
        )
        assert p.poll("wire", after=300, pool=pool).new == 1
        assert _descendants() - before  # the fork server and a worker, or a worker
    finally:
        pool.close()


def test_a_304_that_ends_a_failure_queues_the_recovery_alert(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, make: Any
) -> None:
    feed_server.routes["/f"] = Route(
        rss(["a"]).encode(), headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"}
    )
    cfg = config_for(
        tmp_path,
        {"wire": feed_server.url("/f")},
        polling="  health_notify: [ops]\n  health_threshold: 1h\n",
        extra=f'notifiers:\n  ops: ["{receiver.apprise_url}"]\n',
    )
    p = make(cfg)
    p.poll("wire")
    feed_server.routes["/f"] = Route(b"down", status=500)
    for step in (300, 1800, 1800, 1800):  # the alert at an hour of failing
        assert p.poll("wire", after=step).status == "error"
    feed_server.routes["/f"] = Route(
        rss(["a"]).encode(), headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"}
    )
    recovered = p.poll("wire", after=1800)
    assert recovered.status == "304" and recovered.queued
    asyncio.run(deliver_due(p.store, cfg, lambda: p.now))
    assert [a["title"] for a in receiver.alerts][-1] == "[watcher] feed wire is working again"


def test_claims_leave_out_feeds_the_config_no_longer_names(tmp_path: Path, make: Any) -> None:
    """A feed removed from the config keeps its row (and history) and stays due forever: left
    out of the claim query, it cannot fill the claim limit ahead of the feeds still polled."""
    url = "http://127.0.0.1:9/"
    p = make(config_for(tmp_path, {"gone": url + "g", "a": url + "a", "b": url + "b"}))
    kept = config_for(tmp_path, {"a": url + "a", "b": url + "b"})
    others = sync_feeds(p.store, kept.feeds, p.now, 300)
    assert others == {"gone"}
    with p.store.write() as s:
        for name, minutes in (("gone", 10), ("a", 5), ("b", 1)):
            row = s.exec(select(FeedState).where(FeedState.name == name)).one()
            row.next_poll_at = p.now - timedelta(minutes=minutes)
            s.add(row)
    names = kept.feed_names
    assert claim_due_feeds(p.store, "t", p.now, names, 60, limit=1) == []
    claimed = claim_due_feeds(p.store, "t", p.now, names, 60, limit=1, skip=others)
    assert [name for name, _ in claimed] == ["a"]
    assert claim_due_feeds(p.store, "t", p.now, names, 60, skip=others | {"b"}) == []
    assert p.state("gone").lease_owner is None


def test_only_a_feed_polled_again_soon_keeps_its_connection(
    tmp_path: Path, feed_server: FeedServer, make: Any
) -> None:
    """A feed polled every 15 s keeps its connection for its next poll; one polled every 5
    minutes asks the server to close it (kept, it would expire unused, holding a socket)."""
    body = rss(["a"]).encode()
    feed_server.routes["/busy"] = Route(body, headers={"Content-Type": "application/rss+xml"})
    feed_server.routes["/quiet"] = Route(body, headers={"Content-Type": "application/rss+xml"})
    text = (
        f"database: sqlite:///{tmp_path / 'w.db'}\n"
        "polling:\n  interval: 5m\n  min_interval: 1s\n  timeout: 2s\n  host_gap: 0s\n"
        "  allow_private_addresses: true\n"
        "feeds:\n"
        f'  - {{name: busy, url: "{feed_server.url("/busy")}", interval: 15s, extract: false}}\n'
        f'  - {{name: quiet, url: "{feed_server.url("/quiet")}", extract: false}}\n'
    )
    p = make(parse_config(str(tmp_path / "w.yaml"), text, {}))
    p.poll("busy")
    p.poll("quiet")
    asked = {path: headers.get("Connection") for path, headers in feed_server.requests}
    assert asked == {"/busy": None, "/quiet": "close"}
