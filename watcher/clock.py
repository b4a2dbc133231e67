"""The one clock type and the one place that reads the wall clock.

Stages take `now` as an argument and the daemon passes a `Clock` down, so tests pin time by
handing in their own callable; commands read the time here without importing the daemon.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
