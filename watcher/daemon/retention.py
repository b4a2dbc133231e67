"""Retention: what is old enough to delete, and the batched pruning run.

Matched stories are the archive people search and audit, so they outlive unmatched ones
(`retention.matched_stories` >= `retention.stories`, enforced by the config). Delivery rows
are bookkeeping: once sent or dead they only matter for a while (rate limits look back
minutes, `watcher deliveries` days). A pending or held delivery is never touched.

Run by the daemon once a day (on PostgreSQL under an advisory lock, so one process of many
does it). `now` is passed in; nothing here reads the clock.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from watcher.config.model import RetentionConfig
from watcher.store.db import Store
from watcher.store.prune import prune_deliveries, prune_orphan_alerts, prune_stories

log = logging.getLogger("watcher.daemon.retention")

MAX_BATCHES = 100_000
"""A bound on one run's loop, should a batch ever keep finding rows it cannot delete."""


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these go; None keeps that kind forever."""

    stories: datetime | None
    matched_stories: datetime | None
    deliveries: datetime | None


def cutoffs(retention: RetentionConfig, now: datetime) -> Cutoffs:
    def before(seconds: float) -> datetime | None:
        return None if math.isinf(seconds) else now - timedelta(seconds=seconds)

    return Cutoffs(
        stories=before(retention.stories),
        matched_stories=before(retention.matched_stories),
        deliveries=before(retention.deliveries),
    )


def prune(
    store: Store, retention: RetentionConfig, now: datetime, batch: int = 500
) -> dict[str, int]:
    """Delete what `retention` no longer keeps, `batch` rows per transaction.

    Returns rows deleted per table, plus `unmatched_stories` and `matched_stories` (the two
    kinds of `stories`). Deliveries go first so that the alerts they leave empty can follow.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    cut = cutoffs(retention, now)
    total: Counter[str] = Counter()
    if cut.deliveries is not None:
        for step in (prune_deliveries, prune_orphan_alerts):
            _drain(total, partial(step, store, cut.deliveries, batch))
    for matched, when in ((False, cut.stories), (True, cut.matched_stories)):
        if when is None:
            continue
        stories_before = total["stories"]
        _drain(total, partial(prune_stories, store, when, matched, batch))
        kind = "matched_stories" if matched else "unmatched_stories"
        total[kind] += total["stories"] - stories_before
    counts = {k: v for k, v in total.items() if v}
    if counts:
        log.info("retention: deleted %s", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return counts


def _drain(total: Counter[str], step: Callable[[], Counter[str]]) -> None:
    """Repeat one batch step until it finds nothing more to delete."""
    for _ in range(MAX_BATCHES):
        counts = step()
        total.update(counts)
        if not counts:
            return
