"""Feed health: what `watcher feeds` shows, and the operational alerts about feeds themselves.

No peer tool tells its users that a source went dark, and a monitor that silently stops
watching is worse than none. After every poll the feed's health is assessed (a pure function
of its state and `now`); a change worth telling (failing longer than the threshold, recovered,
a busy feed gone silent, publishing again, disabled by a 410) is written as alert rows in the
same transaction as the flag that prevents repeating it, so an alert is neither lost by a crash
nor sent twice, then delivered and retried like story alerts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from watcher.clock import Clock
from watcher.config import Config, format_duration
from watcher.daemon.policy import is_silent
from watcher.logs import mask
from watcher.store.claims import holder
from watcher.store.db import Store
from watcher.store.feeds import FeedUpdate
from watcher.store.tables import FeedState, HealthAlertRow

log = logging.getLogger("watcher.daemon.health")

MAX_ATTEMPTS = 12  # then the alert is marked dead; the feed's state still shows the problem
BACKOFF_BASE = 30.0  # seconds before the first retry of a failed send; doubles per attempt
BACKOFF_CAP = 6 * 3600.0


@dataclass(frozen=True)
class Verdict:
    flag: str | None  # what is remembered as told: failing | silent | disabled | None
    alert: str | None  # what to tell now: failing | recovered | silent | resumed | disabled


@dataclass(frozen=True)
class Vitals:
    """The part of a feed's state its health depends on; cheap to project past a poll, so the
    pipeline opens a transaction for health only when a poll can change it."""

    disabled: bool
    consecutive_errors: int
    first_error_at: datetime | None
    usual_gap: float | None
    last_new_at: datetime | None
    told: str | None

    @classmethod
    def of(cls, row: FeedState) -> Vitals:
        return cls(
            disabled=row.disabled_at is not None,
            consecutive_errors=row.consecutive_errors,
            first_error_at=row.first_error_at,
            usual_gap=row.usual_gap,
            last_new_at=row.last_new_at,
            told=row.health_alerted,
        )

    def after(self, update: FeedUpdate) -> Vitals:
        """As `state_changes` would leave them."""
        if update.error is not None:
            return replace(
                self,
                disabled=self.disabled or update.disabled_reason is not None,
                consecutive_errors=self.consecutive_errors + 1,
                first_error_at=self.first_error_at or update.polled_at,
            )
        if not update.new_stories:
            return replace(self, consecutive_errors=0, first_error_at=None)
        gap = 1.0 / update.item_rate if update.item_rate else self.usual_gap
        return replace(
            self,
            consecutive_errors=0,
            first_error_at=None,
            usual_gap=gap,
            last_new_at=update.polled_at,
        )


def assess(v: Vitals, now: datetime, threshold: float) -> Verdict:
    """The feed's health flag after its latest poll, and the alert a change deserves."""
    told = v.told
    if v.disabled:
        return Verdict("disabled", None if told == "disabled" else "disabled")
    if v.consecutive_errors:
        since = _utc(v.first_error_at or now)
        if (_utc(now) - since).total_seconds() >= threshold and told != "failing":
            return Verdict("failing", "failing")
        return Verdict(told, None)
    if told == "failing":
        return Verdict(None, "recovered")
    if is_silent(v.usual_gap, v.last_new_at, now):
        return Verdict("silent", None if told == "silent" else "silent")
    if told == "silent":
        return Verdict(None, "resumed")
    return Verdict(None, None)


def changes_health(row: FeedState, update: FeedUpdate, threshold: float) -> bool:
    """Whether recording `update` changes the feed's health flag or deserves an alert."""
    after = Vitals.of(row).after(update)
    verdict = assess(after, update.polled_at, threshold)
    return verdict.alert is not None or verdict.flag != after.told


def message(kind: str, row: FeedState, now: datetime) -> tuple[str, str]:
    """Title and body of an operational alert, in words a desk editor acts on."""
    name = row.name
    if kind == "failing":
        since = row.first_error_at or now
        return (
            f"[watcher] feed {name} has been failing for {_age(since, now)}",
            f"Feed {name} ({row.url}) has failed every poll since {_when(since)} "
            f"({row.consecutive_errors} in a row).\nLast error: {row.last_error}\n"
            f"watcher keeps retrying; next attempt {_when(row.next_poll_at)}. "
            "Stories published there meanwhile are not being seen.",
        )
    if kind == "recovered":
        return (
            f"[watcher] feed {name} is working again",
            f"Feed {name} ({row.url}) answered normally at {_when(now)}.",
        )
    if kind == "silent":
        gap = format_duration(row.usual_gap or 0)
        last = row.last_new_at or now
        return (
            f"[watcher] feed {name} has gone silent",
            f"Feed {name} ({row.url}) usually has a new story every {gap} but has had none "
            f"for {_age(last, now)} (since {_when(last)}). It still answers "
            f"(HTTP {row.last_status}); check that the publisher has not moved it.",
        )
    if kind == "resumed":
        return (
            f"[watcher] feed {name} is publishing again",
            f"Feed {name} ({row.url}) has new stories again at {_when(now)}.",
        )
    return (
        f"[watcher] feed {name} disabled",
        f"Feed {name} ({row.url}) was disabled: {row.disabled_reason or row.last_error}",
    )


def record_health(store: Store, config: Config, feed: str, now: datetime) -> str | None:
    """Assess one feed after a poll; queue the alert a change deserves. Returns its kind."""
    p = config.polling
    with store.write() as s:
        row = s.exec(select(FeedState).where(FeedState.name == feed)).first()
        if row is None:
            return None
        verdict = assess(Vitals.of(row), now, p.health_threshold)
        if verdict.flag == row.health_alerted and verdict.alert is None:
            return None
        row.health_alerted = verdict.flag
        s.add(row)
        if verdict.alert is None:
            return None
        title, body = message(verdict.alert, row, now)
        log.warning("%s", title.removeprefix("[watcher] "))
        for name in p.health_notify:
            notifier = config.notifier(name)
            for target in range(len(notifier.urls) if notifier else 0):
                s.add(
                    HealthAlertRow(
                        feed=feed,
                        kind=verdict.alert,
                        notifier=name,
                        target=target,
                        title=title,
                        body=body,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
        return verdict.alert


def pending_health_alerts(store: Store, now: datetime, limit: int = 100) -> list[HealthAlertRow]:
    with store.read() as s:
        return list(
            s.exec(
                select(HealthAlertRow)
                .where(
                    HealthAlertRow.status == "pending",
                    col(HealthAlertRow.next_attempt_at) <= now,
                )
                .order_by(col(HealthAlertRow.id))
                .limit(limit)
            ).all()
        )


def _mark(store: Store, alert_id: int, now: datetime, error: str | None) -> None:
    with store.write() as s:
        row = s.get(HealthAlertRow, alert_id)
        if row is None:
            return
        row.attempts += 1
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, None
        else:
            row.last_error = error[:2000]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "dead"
            else:
                delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (row.attempts - 1))
                row.next_attempt_at = now + timedelta(seconds=delay)
        s.add(row)


async def deliver_health(store: Store, config: Config, clock: Clock) -> tuple[int, int]:
    """Send due operational alerts, one target each; returns (sent, failed)."""
    from watcher.notify.sender import send_one  # apprise: imported only when sending

    due = await asyncio.to_thread(pending_health_alerts, store, clock())
    sent = failed = 0
    for a in due:
        notifier = config.notifier(a.notifier)
        if notifier is None or a.target >= len(notifier.urls):
            ok, error = False, f"notifier {a.notifier!r} is no longer in the config"
        else:
            ok, error = await send_one(notifier.urls[a.target], a.title, a.body)
        await asyncio.to_thread(
            _mark, store, a.id or 0, clock(), None if ok else mask(error, config.secrets)
        )
        sent, failed = (sent + 1, failed) if ok else (sent, failed + 1)
    if failed:
        log.warning("health alerts: %d sent, %d failed (will retry)", sent, failed)
    return sent, failed


# -- `watcher feeds` --------------------------------------------------------------------------


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
                **_claim(r, now),
            }
        )
    return out


def _claim(r: FeedState | None, now: datetime) -> dict[str, Any]:
    """Which process is polling the feed, and since when (a lapsed claim is nobody's)."""
    process, since = holder(r.lease_owner if r else None)
    if r is None or process is None or r.lease_until is None or _utc(r.lease_until) < _utc(now):
        return {"claimed_by": None, "claimed_since": None}
    return {"claimed_by": process, "claimed_since": _iso(since)}


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
        if row.get("claimed_by"):
            since = row["claimed_since"]
            text.append(
                f"    being polled by {row['claimed_by']}"
                + (f" since {_ago(since, now)}" if since else "")
            )
    return "\n".join(text)


def _iso(d: datetime | None) -> str | None:
    return _utc(d).isoformat().replace("+00:00", "Z") if d is not None else None


def _utc(d: datetime) -> datetime:
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _when(d: datetime) -> str:
    return _utc(d).strftime("%Y-%m-%d %H:%M UTC")


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
