"""Every Prometheus metric the daemon exports, in one place, so names and labels stay coherent.

Labels are bounded by the config: `rule`, `notifier` and `outcome` only; never a URL, a feed
name or a story id (a label value per story would grow the series without end). Metrics live
in their own registry, so a process that runs several daemons (tests) or imports this module
twice never meets prometheus-client's "duplicated timeseries" error.

Recording is cheap and synchronous; the call sites are the scheduler (polls, reloads), the
pipeline (extraction failures, matches), the sender (deliveries and detection latency) and the
worker pool (restarts). The outbox gauges are read from the database when /metrics is scraped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

# detection latency runs from seconds (a busy wire polled every minute) to hours (a site whose
# feed lags its pages, a digest notifier)
LATENCY_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400)

POLLS = Counter(
    "watcher_polls",
    "Feed polls by outcome (ok, unchanged, error, disabled)",
    ["outcome"],
    registry=REGISTRY,
)
POLL_SECONDS = Histogram(
    "watcher_poll_duration_seconds",
    "Time for one poll of one feed, fetch to store",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
NEW_STORIES = Counter("watcher_new_stories", "Stories seen for the first time", registry=REGISTRY)
EXTRACTION_FAILURES = Counter(
    "watcher_extraction_failures",
    "Articles whose page could not be used (outcome: fetch = page not fetched, "
    "extract = no text found); the feed's own text was used instead",
    ["outcome"],
    registry=REGISTRY,
)
MATCHES = Counter("watcher_matches", "Rule matches on new stories", ["rule"], registry=REGISTRY)
DELIVERIES = Counter(
    "watcher_deliveries",
    "Delivery attempts by notifier and outcome (sent, failed)",
    ["notifier", "outcome"],
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "watcher_outbox_backlog", "Deliveries waiting to be sent (pending or held)", registry=REGISTRY
)
OUTBOX_OLDEST = Gauge(
    "watcher_outbox_oldest_pending_seconds",
    "Age of the oldest pending delivery (0: none)",
    registry=REGISTRY,
)
WORKER_RESTARTS = Counter(
    "watcher_worker_restarts",
    "Worker pools restarted after a worker process died",
    registry=REGISTRY,
)
CONFIG_RELOADS = Counter(
    "watcher_config_reloads",
    "Config reloads by outcome (ok, refused)",
    ["outcome"],
    registry=REGISTRY,
)
SEEN_TO_DELIVERED = Histogram(
    "watcher_detection_latency_seen_seconds",
    "From the poll that first saw a matched story to its alert's delivery",
    ["notifier"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
PUBLISHED_TO_DELIVERED = Histogram(
    "watcher_detection_latency_published_seconds",
    "From a matched story's publication time (as its feed states it) to its alert's delivery",
    ["notifier"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def record_poll(status: str, new: int, seconds: float) -> None:
    """`status` is a PollReport's: an HTTP status, "unchanged", "error" or "disabled"."""
    outcome = status if status in ("error", "disabled", "unchanged") else "ok"
    if status == "304":
        outcome = "unchanged"
    POLLS.labels(outcome=outcome).inc()
    POLL_SECONDS.observe(max(seconds, 0.0))
    if new:
        NEW_STORIES.inc(new)


def record_matches(rules: list[str]) -> None:
    for rule in rules:
        MATCHES.labels(rule=rule).inc()


def record_delivery(notifier: str, sent: bool, context: Mapping[str, Any], now: datetime) -> None:
    """One delivery attempt; a sent alert also gives its detection latency, read from the
    template variables stored with it (`matched_at`: the poll that saw the story;
    `story.published_at`: what the feed claimed)."""
    DELIVERIES.labels(notifier=notifier, outcome="sent" if sent else "failed").inc()
    if not sent:
        return
    seen = _time(context.get("matched_at"))
    story = context.get("story")
    published = _time(story.get("published_at")) if isinstance(story, Mapping) else None
    if seen is not None:
        SEEN_TO_DELIVERED.labels(notifier=notifier).observe(max((now - seen).total_seconds(), 0))
    if published is not None:
        delay = (now - published).total_seconds()
        PUBLISHED_TO_DELIVERED.labels(notifier=notifier).observe(max(delay, 0))


def set_outbox(backlog: int, oldest_age: float | None) -> None:
    OUTBOX_BACKLOG.set(backlog)
    OUTBOX_OLDEST.set(max(oldest_age or 0.0, 0.0))


def render() -> bytes:
    """The text exposition format, as /metrics serves it."""
    return generate_latest(REGISTRY)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
