"""Alerts: which alerts a match produces, when they may go, and their delivery through apprise."""

from watcher.notify.alerts import build_alerts, cluster_alerts
from watcher.notify.sender import deliver_due, message_for, send_digests, send_one

__all__ = [
    "build_alerts",
    "cluster_alerts",
    "deliver_due",
    "message_for",
    "send_digests",
    "send_one",
]
