"""When to send: retry backoff, quiet hours, rate limits, digest schedules. Pure: `now` comes in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from watcher.config import QuietHours, parse_duration

BACKOFF_BASE = 30.0
BACKOFF_CAP = 6 * 3600.0
JITTER = 0.2

# Services with a documented sending limit, applied when the notifier sets none.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "tgram": (20, 60.0),  # Telegram: about 20 messages a minute to one group
    "discord": (30, 60.0),
    "slack": (60, 60.0),
}

FORMAT_BY_SCHEME = {
    "mailto": "html",
    "mailtos": "html",
    "tgram": "telegram",
    "discord": "markdown",
    "slack": "markdown",
    "matrix": "markdown",
    "matrixs": "markdown",
    "mmost": "markdown",
    "mmosts": "markdown",
    "rocket": "markdown",
    "rockets": "markdown",
}


def retry_at(now: datetime, attempts: int, max_attempts: int, rnd: float) -> datetime | None:
    """Exponential backoff with ±20 % jitter after `attempts` failures; None = give up."""
    if attempts >= max_attempts:
        return None
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return now + timedelta(seconds=delay * (1 - JITTER + 2 * JITTER * rnd))


def quiet_until(now: datetime, quiet: QuietHours | None) -> datetime | None:
    """The end of the quiet window `now` falls in (UTC), or None outside quiet hours."""
    if quiet is None:
        return None
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    start, end = _hm(quiet.start), _hm(quiet.end)
    t = local.time().replace(second=0, microsecond=0, tzinfo=None)
    if start == end:
        return None
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def _hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def rate_wait(
    now: datetime, sent: Sequence[datetime], limit: tuple[int, float] | None
) -> datetime | None:
    """When the next message may go, if `limit` (count per seconds) is already used up."""
    if limit is None:
        return None
    count, window = limit
    recent = sorted(t for t in sent if t > now - timedelta(seconds=window))
    if len(recent) < count:
        return None
    return recent[-count] + timedelta(seconds=window)


def digest_due(
    spec: str, last: datetime | None, now: datetime, first_held: datetime | None
) -> bool:
    """Is a digest due? Interval digests count from the last one (or the oldest held alert);
    cron digests fire at each scheduled time after the last one, via APScheduler's trigger."""
    since = last or first_held
    if since is None:
        return False
    if len(spec.split()) == 5:
        trigger = CronTrigger.from_crontab(spec, timezone=UTC)
        fire = trigger.get_next_fire_time(None, since + timedelta(seconds=1))
        return fire is not None and fire <= now
    return now - since >= timedelta(seconds=parse_duration(spec))


def rate_limit_for(url: str, configured: tuple[int, float] | None) -> tuple[int, float] | None:
    return configured or DEFAULT_RATE_LIMITS.get(url.partition("://")[0].lower())


def format_for(url: str, configured: str) -> str:
    if configured != "auto":
        return configured
    return FORMAT_BY_SCHEME.get(url.partition("://")[0].lower(), "text")
