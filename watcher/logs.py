"""Logging set-up: text or JSON lines, and masking of secrets in every record.

apprise logs URLs (with bot tokens and passwords) at debug level; the mask filter sits on our
handler so nothing that reaches the output carries a configured secret.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

_STD = set(vars(logging.makeLogRecord({})))


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret with a short masked form (first and last character kept)."""
    for s in sorted(secrets, key=len, reverse=True):
        if s and s in text:
            text = text.replace(s, f"{s[0]}…{s[-1]}" if len(s) > 6 else "****")
    return text


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
