"""Feed health, assessed: whether a feed's state deserves an operational alert, and its words.

No peer tool tells its users that a source went dark, and a monitor that silently stops
watching is worse than none. After every poll the feed's health is assessed here, as a pure
function of its state and `now`; `watcher.daemon.health_outbox` writes the verdict and its
alerts to the outbox in one transaction, and the one sender delivers them like story alerts.
Nothing here touches the database or reads the clock (tests/test_architecture.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from watcher.config.durations import format_duration
from watcher.daemon.policy import is_silent


class FeedFacts(Protocol):
    """What health reads of a feed's stored state (a `FeedState` row)."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def disabled_at(self) -> datetime | None: ...
    @property
    def disabled_reason(self) -> str | None: ...
    @property
    def consecutive_errors(self) -> int: ...
    @property
    def first_error_at(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def last_status(self) -> int | None: ...
    @property
    def next_poll_at(self) -> datetime: ...
    @property
    def usual_gap(self) -> float | None: ...
    @property
    def last_new_at(self) -> datetime | None: ...
    @property
    def health_alerted(self) -> str | None: ...


class PollOutcome(Protocol):
    """What health reads of a poll about to be recorded (a `FeedUpdate`)."""

    @property
    def polled_at(self) -> datetime: ...
    @property
    def error(self) -> str | None: ...
    @property
    def disabled_reason(self) -> str | None: ...
    @property
    def new_stories(self) -> int: ...
    @property
    def item_rate(self) -> float | None: ...


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
    def of(cls, row: FeedFacts) -> Vitals:
        return cls(
            disabled=row.disabled_at is not None,
            consecutive_errors=row.consecutive_errors,
            first_error_at=row.first_error_at,
            usual_gap=row.usual_gap,
            last_new_at=row.last_new_at,
            told=row.health_alerted,
        )

    def after(self, update: PollOutcome) -> Vitals:
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


def changes_health(row: FeedFacts, update: PollOutcome, threshold: float) -> bool:
    """Whether recording `update` changes the feed's health flag or deserves an alert."""
    after = Vitals.of(row).after(update)
    verdict = assess(after, update.polled_at, threshold)
    return verdict.alert is not None or verdict.flag != after.told


def message(event: str, row: FeedFacts, now: datetime) -> tuple[str, str]:
    """Title and body of an operational alert, in words a desk editor acts on."""
    name = row.name
    if event == "failing":
        since = row.first_error_at or now
        return (
            f"[watcher] feed {name} has been failing for {_age(since, now)}",
            f"Feed {name} ({row.url}) has failed every poll since {_when(since)} "
            f"({row.consecutive_errors} in a row).\nLast error: {row.last_error}\n"
            f"watcher keeps retrying; next attempt {_when(row.next_poll_at)}. "
            "Stories published there meanwhile are not being seen.",
        )
    if event == "recovered":
        return (
            f"[watcher] feed {name} is working again",
            f"Feed {name} ({row.url}) answered normally at {_when(now)}.",
        )
    if event == "silent":
        gap = format_duration(row.usual_gap or 0)
        last = row.last_new_at or now
        return (
            f"[watcher] feed {name} has gone silent",
            f"Feed {name} ({row.url}) usually has a new story every {gap} but has had none "
            f"for {_age(last, now)} (since {_when(last)}). It still answers "
            f"(HTTP {row.last_status}); check that the publisher has not moved it.",
        )
    if event == "resumed":
        return (
            f"[watcher] feed {name} is publishing again",
            f"Feed {name} ({row.url}) has new stories again at {_when(now)}.",
        )
    return (
        f"[watcher] feed {name} disabled",
        f"Feed {name} ({row.url}) was disabled: {row.disabled_reason or row.last_error}",
    )


def _utc(d: datetime) -> datetime:
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _when(d: datetime) -> str:
    return _utc(d).strftime("%Y-%m-%d %H:%M UTC")


def _age(since: datetime, now: datetime) -> str:
    return format_duration(max(0.0, (_utc(now) - _utc(since)).total_seconds()))
