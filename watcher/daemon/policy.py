"""Polling policy: when to poll a feed next, and what an HTTP outcome means for it.

Pure functions of their inputs: `now` and a uniform random number are passed in, so the whole
policy is tested without a clock, a server or a database; the pipeline applies it. The
catalogue of outcomes follows rss2email's `_check_for_errors`, with Miniflux's mistake avoided
(a feed is never dropped for good because it failed a few times):

    304, or a 2xx body with an unchanged hash  success, nothing to parse
    2xx                                        success, parse
    301/308 on MOVE_CONFIRMATIONS polls         the stored URL moves (302/307 never move it)
    410                                        disabled until the feed's config URL changes
    429, 503                                   error; no retry before Retry-After (capped)
    other 4xx/5xx, timeout, parse failure      error; exponential backoff to a cap, forever
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MOVE_CONFIRMATIONS = 2  # a permanent redirect must be seen this many polls in a row
JITTER = 0.1  # next-poll times spread +-10% so feeds added together drift apart
RATE_TAU = 6 * 3600.0  # seconds; how quickly the remembered new-item rate follows the feed
TARGET_ITEMS_PER_POLL = 0.5  # poll about twice per usual gap between stories
RATE_WINDOW = 7 * 86400.0  # item dates older than this say nothing about today's rhythm
BUSY_GAP = 3600.0  # a feed whose usual gap between stories is at most this is "busy"
SILENCE_FACTOR = 12.0  # silent = no story for this many usual gaps ...
SILENCE_FLOOR = 3600.0  # ... and at least this long
DISABLING_STATUSES = frozenset({410})
RETRY_AFTER_STATUSES = frozenset({429, 503})

_MAX_AGE = re.compile(r"(?:^|[,\s])(s-maxage|max-age)\s*=\s*\"?(\d+)", re.I)
_SY_PERIODS = {
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
    "monthly": 30 * 86400.0,
    "yearly": 365 * 86400.0,
}


def backoff(errors: int, base: float, cap: float) -> float:
    """Seconds to wait after `errors` consecutive failures: base, 2x, 4x ... never above cap.

    The first failure waits one ordinary interval (a blip should not delay the feed), and the
    cap keeps a dead feed polled a few times a day forever, so it is noticed when it returns.
    """
    if errors <= 0:
        return base
    return min(max(cap, base), base * 2.0 ** min(errors - 1, 32))


def retry_after(value: str | None, now: datetime, cap: float) -> float | None:
    """Seconds a `Retry-After` header asks us to wait (delta-seconds or an HTTP date), capped so
    a hostile or mistaken server cannot silence a feed for a year; None when absent or garbled."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), cap)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), cap)


def jitter(delay: float, u: float, *, only_later: bool = False) -> float:
    """Spread `delay` by +-JITTER (u uniform in [0, 1)); `only_later` when the server set a
    minimum (Retry-After) that jitter must not undercut."""
    if only_later:
        return delay * (1.0 + JITTER * u)
    return delay * (1.0 - JITTER + 2.0 * JITTER * u)


def cache_max_age(headers: Mapping[str, str]) -> float | None:
    """`Cache-Control: max-age` (or s-maxage) in seconds: how long the publisher says a copy
    stays fresh, which is a floor for our polling interval. `no-cache`/`no-store` say nothing."""
    value = next((v for k, v in headers.items() if k.lower() == "cache-control"), None)
    if not value:
        return None
    ages = [float(m.group(2)) for m in _MAX_AGE.finditer(value)]
    return max(ages) if ages else None


def syndication_period(period: str | None, frequency: str | None) -> float | None:
    """RSS `sy:updatePeriod` / `sy:updateFrequency` as seconds between updates."""
    if not period:
        return None
    seconds = _SY_PERIODS.get(period.strip().lower())
    if seconds is None:
        return None
    try:
        times = int((frequency or "1").strip())
    except ValueError:
        times = 1
    return seconds / max(times, 1)


def publisher_hint(*hints: float | None) -> float | None:
    """The longest of the publisher's own hints (ttl, sy:updatePeriod, max-age): polling faster
    than the publisher says it changes only costs both sides."""
    found = [h for h in hints if h is not None and h > 0]
    return max(found) if found else None


def update_rate(old: float | None, new_items: int, elapsed: float) -> float:
    """New-item rate (items per second) after a poll that found `new_items` over `elapsed`
    seconds: an exponential average weighted by time, so many quick polls count no more than
    one slow one covering the same hours."""
    elapsed = max(elapsed, 1.0)
    observed = new_items / elapsed
    if old is None:
        return observed
    w = 1.0 - math.exp(-elapsed / RATE_TAU)
    return old * (1.0 - w) + observed * w


def rate_from_dates(dates: Iterable[datetime | None], now: datetime) -> float | None:
    """A first guess at a feed's rhythm from its items' dates (a new feed has no history): the
    number of gaps over the span of recent dated items. None when fewer than two are dated."""
    recent = sorted(d for d in dates if d is not None and (now - d).total_seconds() < RATE_WINDOW)
    if len(recent) < 2:
        return None
    span = max((now - recent[0]).total_seconds(), 60.0)
    return (len(recent) - 1) / span


def adaptive_interval(
    *,
    pinned: float | None,
    default: float,
    lo: float,
    hi: float,
    rate: float | None,
    hint: float | None,
) -> float:
    """Seconds until the next poll after a success.

    A per-feed `interval` in the config pins it. Otherwise: about twice per usual gap between
    new stories (busy wires down to `lo`, quiet blogs up to `hi`), never faster than the
    publisher's own hint, and `default` until the feed's rhythm is known.
    """
    if pinned is not None:
        return pinned
    if rate is None:
        base = default
    elif rate <= 0:
        base = hi
    else:
        base = TARGET_ITEMS_PER_POLL / rate
    if hint is not None:
        base = max(base, hint)
    return min(max(base, lo), hi)


def keep_connection(interval: float | None, keepalive: float) -> bool:
    """Whether a poll's connection is worth keeping for the feed's next poll: only if that
    comes, jitter included, before the connection would expire. A feed polled every 5 minutes
    would only hold a socket and a place in the idle pool for nothing."""
    return interval is not None and interval * (1.0 + JITTER) <= keepalive


@dataclass(frozen=True)
class Move:
    """Where a feed's permanent redirect stands after one poll."""

    candidate: str | None  # the URL a 301/308 chain ended at, awaiting confirmation
    seen: int  # consecutive polls that ended there
    adopt: str | None = None  # set once confirmed: the stored URL becomes this


def track_move(
    current: str, candidate: str | None, seen: int, final_url: str, permanent: bool
) -> Move:
    """Follow a permanent redirect only after it is seen on MOVE_CONFIRMATIONS polls in a row,
    so one misconfigured afternoon on the publisher's side does not lose the real URL; a
    temporary redirect (302/307 anywhere in the chain) or a direct answer resets the count."""
    if not permanent or final_url == current:
        return Move(None, 0)
    count = seen + 1 if candidate == final_url else 1
    if count >= MOVE_CONFIRMATIONS:
        return Move(None, 0, adopt=final_url)
    return Move(final_url, count)


def possible_gap(new_items: int, total_items: int, polled_before: bool) -> bool:
    """Every item in the feed is new since the last successful poll: the feed's window moved
    past what we saw, so stories may have been published and dropped between polls."""
    return polled_before and total_items > 0 and new_items >= total_items


def is_silent(gap: float | None, last_new_at: datetime | None, now: datetime) -> bool:
    """A busy feed (stories usually every BUSY_GAP or less) that has said nothing for far
    longer than its own rhythm: a wire moving every 10 minutes, silent for 3 hours."""
    if gap is None or last_new_at is None or gap > BUSY_GAP:
        return False
    if last_new_at.tzinfo is None:  # SQLite hands back naive UTC
        last_new_at = last_new_at.replace(tzinfo=UTC)
    quiet = (now - last_new_at).total_seconds()
    return quiet > max(SILENCE_FACTOR * gap, SILENCE_FLOOR)


__all__ = [
    "DISABLING_STATUSES",
    "MOVE_CONFIRMATIONS",
    "RETRY_AFTER_STATUSES",
    "Move",
    "adaptive_interval",
    "backoff",
    "cache_max_age",
    "is_silent",
    "jitter",
    "keep_connection",
    "possible_gap",
    "publisher_hint",
    "rate_from_dates",
    "retry_after",
    "syndication_period",
    "track_move",
    "update_rate",
]
