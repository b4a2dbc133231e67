"""The report of `watcher feeds`: every configured feed's health as a table or JSON lines.

Rendering only, apart from the daemon: what the pipeline last recorded in the feeds table,
put in words against `now`; the health assessment that alerts lives in `watcher.daemon.health`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from watcher.config import Config, format_duration
from watcher.daemon.policy import is_silent
from watcher.store.tables import FeedState


def feed_status(row: FeedState | None, now: datetime) -> str:
    """One word for a feed's state; the details are beside it."""
    if row is None or row.last_polled_at is None:
        return "new"
    if row.disabled_at is not None:
        return "disabled"
    if row.consecutive_errors:
        return "failing"
    if row.health_alerted == "silent" or is_silent(row.usual_gap, row.last_new_at, now):
        return "silent"
    return "ok"


def feed_report(config: Config, rows: Sequence[FeedState], now: datetime) -> list[dict[str, Any]]:
    """Every configured feed's health, in config order, as plain JSON-ready values."""
    by_name = {r.name: r for r in rows}
    out = []
    for f in config.feeds:
        r = by_name.get(f.name)
        out.append(
            {
                "name": f.name,
                "url": r.url if r else f.url,
                "status": feed_status(r, now),
                "last_status": r.last_status if r else None,
                "last_success": _iso(r.last_success_at) if r else None,
                "last_polled": _iso(r.last_polled_at) if r else None,
                "consecutive_errors": r.consecutive_errors if r else 0,
                "failing_since": _iso(r.first_error_at) if r else None,
                "last_error": (r.last_error or r.disabled_reason) if r else None,
                "next_poll": None if r is None or r.disabled_at else _iso(r.next_poll_at),
                "interval": r.interval if r else (f.interval or config.polling.interval),
                "interval_pinned": f.interval is not None,
                "stories_seen": r.stories_seen if r else 0,
                "last_new_story": _iso(r.last_new_at) if r else None,
                "usual_gap": r.usual_gap if r else None,
                "possible_gaps": r.possible_gaps if r else 0,
                "last_gap": _iso(r.last_gap_at) if r else None,
                "moving_to": r.moved_to if r else None,
                "disabled": bool(r and r.disabled_at),
            }
        )
    return out


def format_report(report: Sequence[dict[str, Any]], now: datetime) -> str:
    """The text table of `watcher feeds`, with each problem spelled out under its feed."""
    head = ("FEED", "STATUS", "LAST SUCCESS", "ERRORS", "NEXT POLL", "INTERVAL", "STORIES", "GAPS")
    lines = [head]
    for f in report:
        lines.append(
            (
                f["name"],
                f["status"],
                _ago(f["last_success"], now),
                str(f["consecutive_errors"]),
                "never" if f["disabled"] else _until(f["next_poll"], now),
                format_duration(f["interval"]) + ("" if f["interval_pinned"] else " (adaptive)"),
                str(f["stories_seen"]),
                str(f["possible_gaps"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = []
    for i, line in enumerate(lines):
        text.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if not i:
            continue
        row = report[i - 1]
        if row["last_error"] and row["status"] in ("failing", "disabled"):
            text.append(f"    {row['last_error']}")
        if row["moving_to"]:
            text.append(f"    permanently redirected to {row['moving_to']} (awaiting confirmation)")
    return "\n".join(text)


def _iso(d: datetime | None) -> str | None:
    return _utc(d).isoformat().replace("+00:00", "Z") if d is not None else None


def _utc(d: datetime) -> datetime:
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _age(since: datetime, now: datetime) -> str:
    return format_duration(max(0.0, (_utc(now) - _utc(since)).total_seconds()))


def _ago(iso: str | None, now: datetime) -> str:
    if iso is None:
        return "never"
    return _age(datetime.fromisoformat(iso.replace("Z", "+00:00")), now) + " ago"


def _until(iso: str | None, now: datetime) -> str:
    if iso is None:
        return "-"
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    left = (at - _utc(now)).total_seconds()
    return "due" if left <= 0 else "in " + format_duration(left)
