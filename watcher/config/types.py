"""The value types of the config file: what a person may write, and the typed value it becomes.

Each type is `Annotated[runtime type, BeforeValidator(check), WithJsonSchema(...)]`: the check
accepts the YAML spelling ("5m", "10MB", "forever") and raises ValueError with advice a person
can act on; the JSON Schema describes the spelling, not the converted value, so an editor
validating the YAML agrees with `watcher check`. Heavy checkers (apprise, Jinja2, cron) are
imported when a value needs them, so `watcher config schema` stays light.
"""

from __future__ import annotations

import difflib
import functools
import logging
import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from watcher.config.durations import parse_duration

MIN_RETENTION = 86400.0
# Letters of any script (Новости-ру, Ղարաբաղ), digits, '-', '_', '.'; a letter or digit first.
_NAME = re.compile(r"^[^\W_][\w.-]*$")
# The same for editors: JSON Schema's ECMA `\w` is ASCII-only, so the schema says "no spaces,
# quotes, slashes or URL punctuation" and the loader keeps the last word.
NAME_PATTERN = r"^[^\s\"'/\\:@#?&=%<>|*]+$"
_SIZE = re.compile(r"^(\d+)\s*(b|kb|k|mb|m|gb|g)?$", re.I)
_DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d|w)?\s*)+$"
FORMATS = ("auto", "text", "html", "markdown")
PRIORITIES = ("low", "normal", "high")


def _string(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected text, got {type(v).__name__} {v!r}")
    return v


def _name(v: Any) -> str:
    s = _string(v)
    if not _NAME.match(s):
        raise ValueError(
            f"{s!r} is not a valid name; use letters (any script), digits, '-', '_' and '.', "
            "starting with a letter or digit"
        )
    return s


def _http_url(v: Any) -> str:
    from urllib.parse import urlsplit

    s = _string(v).strip()
    parts = urlsplit(s)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s):// URL, got {s!r}")
    return s


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {v!r}")
    return v


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"expected a number, got {v!r}")
    return float(v)


def _positive_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"expected a whole number of at least 1, got {v!r}")
    return v


def _workers(v: Any) -> int | None:
    if v is None or (isinstance(v, str) and v.strip().lower() == "auto"):
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"expected auto, 0 (threads only) or a number of processes, got {v!r}")
    return v


def _keep_for(v: Any) -> float:
    """At least a day: a feed still listing a story that was pruned would hand it over as new,
    and a matched one would alert again."""
    if isinstance(v, str) and v.strip().lower() == "forever":
        return math.inf
    if isinstance(v, float) and math.isinf(v):
        return v
    seconds = parse_duration(v)
    if seconds < MIN_RETENTION:
        raise ValueError(f"expected at least 1d (or forever), got {v!r}")
    return seconds


def _size(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v
    m = _SIZE.match(str(v).strip())
    if not m or isinstance(v, bool):
        raise ValueError(f"expected a size like 10MB, 512KB or a byte count, got {v!r}")
    unit = (m.group(2) or "b").lower()[0]
    return int(m.group(1)) * {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def _rate(v: Any) -> tuple[int, float]:
    if isinstance(v, tuple):
        return v
    count, slash, per = str(v).partition("/")
    if not slash or not count.strip().isdigit() or int(count) < 1:
        raise ValueError(f"expected messages/period like 20/1m or 100/1h, got {v!r}")
    return int(count), parse_duration(per.strip())


def _clock_time(v: Any) -> str:
    s = _string(v).strip()
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", s)
    if not m:
        raise ValueError(f"expected a time of day like 22:00, got {v!r}")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def _timezone(v: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    s = _string(v)
    try:
        ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {s!r}; use an IANA name like Asia/Baku") from exc
    return s


def _digest(v: Any) -> str:
    s = str(v).strip()
    if len(s.split()) == 5:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(s, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {s!r}: {exc}") from exc
        return s
    parse_duration(s)
    return s


def _jinja(v: Any) -> str:
    from jinja2 import TemplateSyntaxError

    from watcher.notify.templates import template_environment

    s = _string(v)
    try:
        template_environment().parse(s)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template syntax error on its line {exc.lineno}: {exc.message}") from exc
    return s


def _str_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"expected a list of text items, got {v!r}")
    return tuple(v)


def _urls(v: Any) -> tuple[str, ...]:
    items = _str_list(v)
    if not items:
        raise ValueError("a notifier needs at least one apprise URL")
    return items


def _term_list(v: Any) -> tuple[str, ...]:
    items = _str_list(v)
    if not items:
        raise ValueError("a term list needs at least one term")
    return items


def _headers(v: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(v, tuple):
        return v
    if not isinstance(v, dict) or not all(
        isinstance(k, str) and isinstance(x, str) for k, x in v.items()
    ):
        raise ValueError("expected a mapping of header names to text values")
    return tuple(v.items())


def _one_of(choices: tuple[str, ...], what: str) -> BeforeValidator:
    def check(v: Any) -> str:
        if v not in choices:
            raise ValueError(f"{what} is one of {', '.join(choices)}")
        return str(v)

    return BeforeValidator(check)


def _apprise_url(v: Any) -> str:
    """apprise itself decides; it logs the URL, secrets and all, on failure, so it is hushed."""
    import apprise

    url = _string(v)
    quiet = logging.getLogger("apprise")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        ok = apprise.Apprise().add(url)
    finally:
        quiet.setLevel(level)
    if not ok:
        scheme = url.partition("://")[0] or "(none)"
        known = _apprise_schemes()
        if scheme.lower() not in known:
            close = difflib.get_close_matches(scheme.lower(), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}://? " if close else ""
            raise ValueError(
                f"apprise has no service {scheme + '://'!r}; {hint}"
                "the services and their URLs: https://github.com/caronc/apprise/wiki"
            )
        raise ValueError(
            f"apprise cannot use this URL (scheme {scheme!r}); check the scheme "
            "and its required parts at https://github.com/caronc/apprise/wiki"
        )
    return url


@functools.cache
def _apprise_schemes() -> tuple[str, ...]:
    """Every URL scheme the installed apprise speaks (tgram, mailto, json, ...)."""
    import apprise

    found: set[str] = set()
    for plugin in apprise.Apprise().details()["schemas"]:
        for key in ("protocols", "secure_protocols"):
            value = plugin.get(key) or ()
            found.update([value] if isinstance(value, str) else value)
    return tuple(sorted(s.lower() for s in found))


_TEXT_LIST = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
_SOME_TEXT = {
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ]
}
_DURATION = {
    "anyOf": [{"type": "string", "pattern": _DURATION_PATTERN}, {"type": "number", "minimum": 0}],
    "description": "a duration: 90s, 5m, 1h30m, 30d, or a number of seconds",
}

Text = Annotated[str, BeforeValidator(_string), WithJsonSchema({"type": "string"})]
Name = Annotated[
    str, BeforeValidator(_name), WithJsonSchema({"type": "string", "pattern": NAME_PATTERN})
]
HttpUrl = Annotated[
    str,
    BeforeValidator(_http_url),
    WithJsonSchema({"type": "string", "pattern": "^\\s*[Hh][Tt][Tt][Pp][Ss]?://"}),
]
Bool = Annotated[bool, BeforeValidator(_bool), WithJsonSchema({"type": "boolean"})]
Number = Annotated[float, BeforeValidator(_number), WithJsonSchema({"type": "number"})]
PositiveInt = Annotated[
    int, BeforeValidator(_positive_int), WithJsonSchema({"type": "integer", "minimum": 1})
]
Workers = Annotated[
    int | None,
    BeforeValidator(_workers),
    WithJsonSchema(
        {"anyOf": [{"const": "auto"}, {"type": "integer", "minimum": 0}, {"type": "null"}]}
    ),
]
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION)]
KeepFor = Annotated[
    float,
    BeforeValidator(_keep_for),
    WithJsonSchema({"anyOf": [{"const": "forever"}, *_DURATION["anyOf"]]}),
]
Size = Annotated[
    int,
    BeforeValidator(_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": "^\\s*\\d+\\s*([BbKkMmGg]|[KkMmGg][Bb])?\\s*$"},
            ]
        }
    ),
]
Rate = Annotated[
    tuple[int, float],
    BeforeValidator(_rate),
    WithJsonSchema({"type": "string", "pattern": "^\\s*\\d+\\s*/", "examples": ["20/1m"]}),
]
ClockTime = Annotated[
    str,
    BeforeValidator(_clock_time),
    WithJsonSchema({"type": "string", "pattern": "^\\s*([01]?\\d|2[0-3]):[0-5]\\d\\s*$"}),
]
TimeZone = Annotated[str, BeforeValidator(_timezone), WithJsonSchema({"type": "string"})]
Digest = Annotated[
    str,
    BeforeValidator(_digest),
    WithJsonSchema({"type": ["string", "number"], "examples": ["30m", "0 8 * * *"]}),
]
Jinja = Annotated[str, BeforeValidator(_jinja), WithJsonSchema({"type": "string"})]
TextList = Annotated[tuple[str, ...], BeforeValidator(_str_list), WithJsonSchema(_TEXT_LIST)]
TermList = Annotated[tuple[str, ...], BeforeValidator(_term_list), WithJsonSchema(_SOME_TEXT)]
NameList = Annotated[tuple[str, ...], BeforeValidator(_str_list), WithJsonSchema(_TEXT_LIST)]
Headers = Annotated[
    tuple[tuple[str, str], ...],
    BeforeValidator(_headers),
    WithJsonSchema({"type": "object", "additionalProperties": {"type": "string"}}),
]
Format = Annotated[str, _one_of(FORMATS, "format"), WithJsonSchema({"enum": list(FORMATS)})]
Priority = Annotated[
    str, _one_of(PRIORITIES, "priority"), WithJsonSchema({"enum": list(PRIORITIES)})
]
AppriseUrl = Annotated[str, BeforeValidator(_apprise_url), WithJsonSchema({"type": "string"})]
AppriseUrls = Annotated[tuple[AppriseUrl, ...], BeforeValidator(_urls), WithJsonSchema(_SOME_TEXT)]
