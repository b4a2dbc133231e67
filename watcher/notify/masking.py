"""Notifier URLs as they may be shown: apprise's own privacy form, secrets replaced."""

from __future__ import annotations

import logging
from typing import Any

import apprise


def masked_url(url: str) -> str:
    """`tgram://1...F/1234/`-style: apprise knows which parts of each service's URL are secret."""
    quiet = logging.getLogger("apprise")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        ap = apprise.Apprise()
        if not ap.add(url):
            return url.partition("://")[0] + "://****"
        plugin: Any = next(iter(ap))
        return str(plugin.url(privacy=True)).partition("?")[0]
    finally:
        quiet.setLevel(level)
