"""Feed-health alerts into the outbox: the verdict and its alerts commit together.

The feed's health flag and the alert rows it deserves are written in one transaction, so an
alert is neither lost by a crash nor repeated (the flag says it was told). The alerts are
ordinary outbox rows of kind `health` with no story: the one sender claims, rate-limits, holds
for quiet hours and retries them like story alerts, and `watcher deliveries` lists them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import select

from watcher.config import Config
from watcher.daemon.health import Vitals, assess, message
from watcher.store.db import Store
from watcher.store.outbox import HEALTH, OutboxAlert, add_alert
from watcher.store.tables import FeedState

log = logging.getLogger("watcher.daemon.health")


def record_health(store: Store, config: Config, feed: str, now: datetime) -> str | None:
    """Assess one feed after a poll; queue the alert a change deserves. Returns its event."""
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
        context = {"feed": feed, "event": verdict.alert, "title": title, "body": body}
        for name in p.health_notify:
            notifier = config.notifier(name)
            if notifier is None:  # the config check refuses this; never worth a crash here
                continue
            add_alert(s, None, OutboxAlert(name, title, context, len(notifier.urls), HEALTH), now)
        return verdict.alert
