"""The polling policy as pure functions: backoff, Retry-After, jitter, rhythm, moves, gaps, health."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from watcher.cli.feed_report import feed_status
from watcher.daemon.health import Vitals, assess
from watcher.daemon.policy import (
    adaptive_interval,
    backoff,
    cache_max_age,
    is_silent,
    jitter,
    possible_gap,
    publisher_hint,
    rate_from_dates,
    retry_after,
    syndication_period,
    track_move,
    update_rate,
)
from watcher.store.tables import FeedState

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
H = 3600.0


def test_backoff_doubles_from_the_interval_up_to_the_cap_forever() -> None:
    delays = [backoff(n, 300, 6 * H) for n in range(1, 12)]
    assert delays[:4] == [300, 600, 1200, 2400]
    assert delays[-1] == 6 * H and all(a <= b for a, b in itertools.pairwise(delays))
    assert backoff(10_000, 300, 6 * H) == 6 * H  # no overflow, no giving up
    assert backoff(3, 8 * H, 6 * H) == 8 * H  # a pinned interval above the cap is kept


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 30 ", 30.0),
        ("Sat, 28 Nov 2026 06:10:00 GMT", 600.0),
        ("Sat, 28 Nov 2026 05:00:00 GMT", 0.0),  # a date in the past: no wait
        ("999999999", 6 * H),  # capped
        ("Sun, 28 Nov 2027 06:00:00 GMT", 6 * H),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_seconds_or_date_capped(value: str | None, expected: float | None) -> None:
    assert retry_after(value, NOW, 6 * H) == expected


def test_jitter_spreads_and_never_undercuts_a_server_minimum() -> None:
    assert jitter(100, 0.0) == pytest.approx(90) and jitter(100, 0.999) == pytest.approx(110, 0.01)
    assert jitter(100, 0.0, only_later=True) == 100
    assert jitter(100, 0.5, only_later=True) == pytest.approx(105)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=600", 600.0),
        ("public, max-age=120, s-maxage=900", 900.0),
        ('max-age="60"', 60.0),
        ("no-cache", None),
        ("", None),
    ],
)
def test_cache_control_max_age(header: str, expected: float | None) -> None:
    assert cache_max_age({"Cache-Control": header}) == expected
    assert cache_max_age({"cache-control": header}) == expected


def test_syndication_period_and_publisher_hint() -> None:
    assert syndication_period("hourly", "2") == 1800
    assert syndication_period("daily", None) == 86400
    assert syndication_period("Weekly", "x") == 7 * 86400
    assert syndication_period("fortnightly", "1") is None
    assert syndication_period(None, "4") is None
    assert publisher_hint(None, 1800, 600) == 1800
    assert publisher_hint(None, None) is None


def test_adaptive_interval_follows_the_rhythm_within_bounds() -> None:
    kw = {"default": 300.0, "lo": 60.0, "hi": 6 * H, "hint": None}
    assert adaptive_interval(pinned=None, rate=None, **kw) == 300  # unknown rhythm: default
    assert adaptive_interval(pinned=None, rate=1 / 600, **kw) == 300  # a story every 10 min
    assert adaptive_interval(pinned=None, rate=1 / 10, **kw) == 60  # a busy wire: the floor
    assert adaptive_interval(pinned=None, rate=1 / 86400, **kw) == 6 * H  # a quiet blog: cap
    assert adaptive_interval(pinned=None, rate=0.0, **kw) == 6 * H
    assert adaptive_interval(pinned=120, rate=1 / 10, **kw) == 120  # a per-feed interval pins
    hinted = {**kw, "hint": 1800.0}
    assert adaptive_interval(pinned=None, rate=1 / 10, **hinted) == 1800  # ttl / max-age floor


def test_rate_follows_new_items_weighted_by_time() -> None:
    rate = update_rate(None, 6, 3600)
    assert rate == pytest.approx(6 / 3600)
    # many quiet polls bring it down, about as much as one long quiet poll would
    many = rate
    for _ in range(12):
        many = update_rate(many, 0, 300)
    once = update_rate(rate, 0, 3600)
    assert many < rate and many == pytest.approx(once, rel=0.01)
    assert update_rate(rate, 30, 300) > rate


def test_rate_from_item_dates_seeds_a_new_feed() -> None:
    dates = [NOW - timedelta(minutes=10 * i) for i in range(7)]  # every 10 min for an hour
    assert rate_from_dates([*dates, None], NOW) == pytest.approx(6 / 3600)
    assert rate_from_dates([NOW - timedelta(days=30), NOW - timedelta(days=40)], NOW) is None
    assert rate_from_dates([NOW], NOW) is None


def test_a_permanent_move_is_adopted_only_when_seen_twice_in_a_row() -> None:
    a, b = "https://old.example/feed", "https://new.example/feed"
    first = track_move(a, None, 0, b, permanent=True)
    assert (first.candidate, first.seen, first.adopt) == (b, 1, None)
    second = track_move(a, first.candidate, first.seen, b, permanent=True)
    assert second.adopt == b and second.candidate is None
    # a temporary redirect or a direct answer in between resets the count
    temp = track_move(a, first.candidate, first.seen, b, permanent=False)
    assert (temp.candidate, temp.seen, temp.adopt) == (None, 0, None)
    direct = track_move(a, first.candidate, first.seen, a, permanent=True)
    assert direct.adopt is None and direct.seen == 0
    other = track_move(a, b, 1, "https://third.example/feed", permanent=True)
    assert other.adopt is None and other.seen == 1


def test_possible_gap_only_when_the_whole_window_is_new_after_a_poll() -> None:
    assert possible_gap(20, 20, polled_before=True)
    assert not possible_gap(20, 20, polled_before=False)  # the first poll sees everything
    assert not possible_gap(19, 20, polled_before=True)
    assert not possible_gap(0, 0, polled_before=True)


def test_silence_is_relative_to_the_feeds_own_rhythm() -> None:
    last = NOW - timedelta(hours=3)
    assert is_silent(600, last, NOW)  # a 10-minute wire quiet for 3 h
    assert not is_silent(600, NOW - timedelta(minutes=90), NOW)
    assert not is_silent(6 * H, last - timedelta(days=2), NOW)  # not a busy feed
    assert not is_silent(None, last, NOW)
    assert is_silent(600, last.replace(tzinfo=None), NOW)  # SQLite's naive UTC


def _row(**kw: object) -> FeedState:
    base: dict[str, object] = {
        "name": "wire",
        "url": "https://wire.example/rss",
        "next_poll_at": NOW,
        "last_polled_at": NOW,
    }
    return FeedState(**{**base, **kw})


def test_health_alerts_once_per_episode() -> None:
    threshold = 6 * H
    early = _row(consecutive_errors=3, first_error_at=NOW - timedelta(hours=1))
    assert assess(Vitals.of(early), NOW, threshold) == assess(Vitals.of(early), NOW, threshold)
    assert assess(Vitals.of(early), NOW, threshold).alert is None
    long = _row(consecutive_errors=30, first_error_at=NOW - timedelta(hours=7))
    assert assess(Vitals.of(long), NOW, threshold).alert == "failing"
    told = _row(
        consecutive_errors=31, first_error_at=NOW - timedelta(hours=8), health_alerted="failing"
    )
    assert assess(Vitals.of(told), NOW, threshold).alert is None
    back = _row(health_alerted="failing")
    verdict = assess(Vitals.of(back), NOW, threshold)
    assert (verdict.flag, verdict.alert) == (None, "recovered")
    quiet = _row(usual_gap=600.0, last_new_at=NOW - timedelta(hours=3))
    assert assess(Vitals.of(quiet), NOW, threshold).alert == "silent"
    assert feed_status(quiet, NOW) == "silent"
    resumed = _row(usual_gap=600.0, last_new_at=NOW, health_alerted="silent")
    assert assess(Vitals.of(resumed), NOW, threshold).alert == "resumed"
    gone = _row(disabled_at=NOW, disabled_reason="gone (410)", consecutive_errors=1)
    assert assess(Vitals.of(gone), NOW, threshold).alert == "disabled"
    assert feed_status(gone, NOW) == "disabled"
    assert (
        assess(Vitals.of(_row(disabled_at=NOW, health_alerted="disabled")), NOW, threshold).alert
        is None
    )


def test_connection_kept_only_for_a_feed_polled_again_before_it_expires() -> None:
    from watcher.daemon.policy import keep_connection

    assert keep_connection(15.0, 60.0)
    assert keep_connection(54.0, 60.0)  # 54 s + 10% jitter: just in time
    assert not keep_connection(55.0, 60.0)
    assert not keep_connection(300.0, 60.0)
    assert not keep_connection(None, 60.0)
    assert not keep_connection(15.0, 0.0)  # keep-alive off
