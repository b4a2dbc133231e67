"""Durations as people write them in YAML and on the command line: `90s`, `5m`, `1h30m`, `30d`."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str | int | float) -> float:
    """Seconds in `text`; bare numbers are seconds. Raises ValueError with a usable message."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):  # a list, a mapping
        raise ValueError(f"expected a duration like 90s, 5m, 2h or 30d, got {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"a duration cannot be negative, got {text!r}")
        return float(text)
    s = text.strip().lower().replace(" ", "")
    if s and re.fullmatch(r"\d+(?:\.\d+)?", s):
        return float(s)
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"expected a duration like 90s, 5m, 2h or 30d, got {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """The inverse, for logs and listings: 300 -> '5m', 5400 -> '1h30m'."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    out, rest = "", round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out or "0s"
