"""Logging set-up: text or JSON lines, and masking of secrets in every record.

apprise logs URLs (with bot tokens and passwords) at debug level; the mask filter sits on our
handler so nothing that reaches the output carries a configured secret.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime

_STD = set(vars(logging.makeLogRecord({})))


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret with a short masked form (first and last character kept)."""
    for s in sorted(secrets, key=len, reverse=True):
        if s and s in text:
            text = text.replace(s, f"{s[0]}…{s[-1]}" if len(s) > 6 else "****")
    return text


class Repeats:
    """A job that runs every few seconds meets the same trouble for as long as it lasts (a full
    disk: hours, with passes in between that had nothing to write and so did not fail): each
    message is said at WARNING once per `window` seconds per job, its repeats at DEBUG."""

    def __init__(self, window: float = 600.0) -> None:
        self._window = window
        self._said: dict[str, tuple[str, float]] = {}

    def level(self, job: str, message: str) -> int:
        now = time.monotonic()
        last = self._said.get(job)
        if last is not None and last[0] == message and now - last[1] < self._window:
            return logging.DEBUG
        self._said[job] = (message, now)
        return logging.WARNING


class SecretFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: frozenset[str] = frozenset()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = mask(record.getMessage(), self.secrets)
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(
            {k: v for k, v in vars(record).items() if k not in _STD and not k.startswith("_")}
        )
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


_filter = SecretFilter()


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_filter)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if root.level > logging.DEBUG:
        for noisy in (
            "apprise",
            "trafilatura",
            "htmldate",
            "charset_normalizer",
            "apscheduler",
            "alembic",
        ):
            logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))


def set_secrets(secrets: Iterable[str]) -> None:
    """Secrets become known only after the config loads; register them as soon as it does."""
    _filter.secrets = frozenset(secrets)
