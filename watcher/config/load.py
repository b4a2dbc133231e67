"""Validate the YAML tree into frozen `Config` objects, collecting every problem before failing.

Unknown keys are errors so a typo (`intreval:`) never passes silently. Each problem carries the
file and line of the offending key.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path as FsPath
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import apprise
from apscheduler.triggers.cron import CronTrigger
from jinja2 import TemplateSyntaxError

from watcher.config.durations import parse_duration
from watcher.config.model import (
    Config,
    FeedConfig,
    NotifierConfig,
    PollingConfig,
    QuietHours,
    RetentionConfig,
    RuleConfig,
    Template,
)
from watcher.config.opml import parse_opml
from watcher.config.source import Path, Source, dotted, load_source, resolve_var
from watcher.errors import ConfigError, ParseError, Problem
from watcher.notify.templates import template_environment
from watcher.rules import RuleSpec, validate_rules

T = TypeVar("T")

DEFAULT_PATH = "config/watcher.yaml"
TOP_KEYS = {"database", "polling", "retention", "feeds", "terms", "notifiers", "rules"}
RETENTION_KEYS = {"stories", "matched_stories", "deliveries"}
MIN_RETENTION = 86400.0
POLLING_KEYS = {
    "interval",
    "min_interval",
    "max_interval",
    "allow_private_addresses",
    "timeout",
    "max_bytes",
    "concurrency",
    "workers",
    "per_host",
    "user_agent",
    "host_gap",
    "health_notify",
    "health_threshold",
    "lease",
}
FEED_KEYS = {"name", "url", "interval", "tags", "extract", "headers"}
DATABASE_KEYS = {"url", "auto_upgrade"}
OPML_KEYS = {"opml", "tags", "interval", "extract"}
NOTIFIER_KEYS = {
    "urls",
    "format",
    "rate_limit",
    "quiet_hours",
    "digest",
    "template",
    "max_attempts",
}
FORMATS = ("auto", "text", "html", "markdown")
RULE_KEYS = {
    "name",
    "query",
    "any",
    "all",
    "none",
    "notify",
    "case_sensitive",
    "fields",
    "feeds",
    "languages",
    "min_score",
    "priority",
    "template",
    "escalate_at",
    "updates",
}
NO_TEXT: tuple[str, ...] = ()
NO_HEADERS: tuple[tuple[str, str], ...] = ()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SIZE = re.compile(r"^(\d+)\s*(b|kb|k|mb|m|gb|g)?$", re.I)


def config_path(cli_value: str | None, env: Mapping[str, str] | None = None) -> str:
    """`-c FILE`, else `$WATCHER_CONFIG`, else `./config/watcher.yaml`."""
    env = os.environ if env is None else env
    return cli_value or env.get("WATCHER_CONFIG") or DEFAULT_PATH


def load_config(path: str, env: Mapping[str, str] | None = None) -> Config:
    """Read, substitute, validate. Raises ConfigError listing every problem found."""
    env = dict(os.environ) if env is None else dict(env)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(path, 0, "", f"cannot read config: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(path, 0, "", f"config is not UTF-8: {exc}")]) from exc
    return parse_config(path, text, env)


def variable_origins(path: str, env: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """Each `${VAR}` the config uses -> (where its value came from, the value masked), for
    `watcher check`: a container operator sees that SMTP_PASS came from $SMTP_PASS_FILE."""
    env = dict(os.environ) if env is None else dict(env)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    src = load_source(path, text, env)
    out = {}
    for name, origin in sorted(src.origins.items()):
        found = resolve_var(name, env) if origin != "default" else None
        value = found[0] if found else ""
        out[name] = (origin, mask_value(value))
    return out


def mask_value(value: str) -> str:
    """Never a character of a secret: only whether it is empty and roughly how long."""
    return "(empty)" if not value else f"**** ({len(value)} chars)"


def parse_config(path: str, text: str, env: Mapping[str, str]) -> Config:
    src = load_source(path, text, env)
    if src.problems and src.data is None:
        raise ConfigError(src.problems)
    data = src.data
    if not isinstance(data, dict):
        src.problem((), "the config must be a mapping of keys (database, feeds, rules, ...)")
        raise ConfigError(src.problems)
    _unknown(src, data, (), TOP_KEYS)

    database, auto_upgrade = _database(src, data.get("database"))
    database = env.get("WATCHER_DATABASE_URL") or database
    polling = _polling(src, data.get("polling"))
    retention = _retention(src, data.get("retention"))
    feeds = _feeds(src, data.get("feeds"))
    terms = _terms(src, data.get("terms"))
    notifiers = _notifiers(src, data.get("notifiers"))
    for j, target in enumerate(polling.health_notify):
        if target not in {n.name for n in notifiers}:
            src.problem(
                ("polling", "health_notify", j),
                f"unknown notifier {target!r}; define it under notifiers:",
            )
    rules = _rules(src, data.get("rules"), {n.name for n in notifiers}, dict(terms))

    if src.problems:
        raise ConfigError(sorted(src.problems, key=lambda p: p.line))
    secrets = set(src.secrets)
    for n in notifiers:
        for url in n.urls:
            secrets |= url_secrets(url)
    secrets |= url_secrets(database, paths=False)
    return Config(
        path=path,
        database=database,
        auto_upgrade=auto_upgrade,
        polling=polling,
        retention=retention,
        feeds=feeds,
        terms=terms,
        notifiers=notifiers,
        rules=rules,
        secrets=frozenset(s for s in secrets if len(s) >= 4),
    )


def url_secrets(url: str, *, paths: bool = True) -> set[str]:
    """The parts of a URL that are likely credentials: password, tokens in host/path/query.
    `paths=False` for database URLs, whose path is a file name, not a token."""
    out: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return out
    netloc = parts.netloc.rpartition("@")
    userinfo, host = netloc[0], netloc[2]
    if userinfo:
        out.add(userinfo.partition(":")[2])
    # Telegram and many others put the token where a host would be (tgram://123:ABC/chat).
    if not paths:
        return {s for s in out if s}
    if parts.scheme not in ("http", "https", "json", "xml", "form", "mailto", "mailtos"):
        out.add(host)
    for segment in parts.path.split("/"):
        if len(segment) >= 16:
            out.add(segment)
    for key, value in parse_qsl(parts.query):
        if len(value) >= 16 or key.lower() in ("pass", "password", "token", "apikey", "key"):
            out.add(value)
    return {s for s in out if s}


# -- sections ------------------------------------------------------------------------------


def _database(src: Source, raw: Any) -> tuple[str, bool | None]:
    """`database: URL` or `database: {url: URL, auto_upgrade: bool}`."""
    default = "sqlite:///data/watcher.db"
    if raw is None:
        return default, None
    if isinstance(raw, dict):
        _unknown(src, raw, ("database",), DATABASE_KEYS)
        url = _opt(src, raw, ("database", "url"), _string, default)
        return url, _opt(src, raw, ("database", "auto_upgrade"), _bool, None)
    return _check(src, ("database",), raw, _string) or default, None


def _retention(src: Source, raw: Any) -> RetentionConfig:
    """Ages as durations, or `forever`. At least a day: a feed still listing a story that was
    pruned would hand it over as new, and a matched one would alert again."""
    d = RetentionConfig()
    if raw is None or not _mapping(src, raw, ("retention",)):
        return d
    _unknown(src, raw, ("retention",), RETENTION_KEYS)
    p: Path = ("retention",)
    out = RetentionConfig(
        stories=_opt(src, raw, (*p, "stories"), _keep_for, d.stories),
        matched_stories=_opt(src, raw, (*p, "matched_stories"), _keep_for, d.matched_stories),
        deliveries=_opt(src, raw, (*p, "deliveries"), _keep_for, d.deliveries),
    )
    if out.matched_stories < out.stories:
        src.problem(
            (*p, "matched_stories"),
            "matched_stories must be at least as long as stories (matched stories outlive "
            "unmatched ones)",
        )
    return out


def _polling(src: Source, raw: Any) -> PollingConfig:
    d = PollingConfig()
    if raw is None or not _mapping(src, raw, ("polling",)):
        return d
    _unknown(src, raw, ("polling",), POLLING_KEYS)
    p: Path = ("polling",)
    out = PollingConfig(
        interval=_opt(src, raw, (*p, "interval"), _duration, d.interval),
        min_interval=_opt(src, raw, (*p, "min_interval"), _duration, d.min_interval),
        max_interval=_opt(src, raw, (*p, "max_interval"), _duration, d.max_interval),
        allow_private_addresses=_opt(
            src, raw, (*p, "allow_private_addresses"), _bool, d.allow_private_addresses
        ),
        timeout=_opt(src, raw, (*p, "timeout"), _duration, d.timeout),
        max_bytes=_opt(src, raw, (*p, "max_bytes"), _size, d.max_bytes),
        concurrency=_opt(src, raw, (*p, "concurrency"), _positive_int, d.concurrency),
        workers=_opt(src, raw, (*p, "workers"), _workers, d.workers),
        per_host=_opt(src, raw, (*p, "per_host"), _positive_int, d.per_host),
        user_agent=_opt(src, raw, (*p, "user_agent"), _string, d.user_agent),
        host_gap=_opt(src, raw, (*p, "host_gap"), _duration, d.host_gap),
        health_notify=_opt(src, raw, (*p, "health_notify"), _str_list, d.health_notify),
        health_threshold=_opt(src, raw, (*p, "health_threshold"), _duration, d.health_threshold),
        lease=_opt(src, raw, (*p, "lease"), _duration, d.lease),
    )
    if out.min_interval > out.max_interval:
        src.problem((*p, "min_interval"), "min_interval must not exceed max_interval")
    if out.lease < out.timeout * 2:
        src.problem(
            (*p, "lease"),
            "lease must be at least twice the timeout, or another "
            "process could take over a feed still being polled",
        )
    if out.timeout <= 0:
        src.problem((*p, "timeout"), "timeout must be greater than zero")
    return out


def _feeds(src: Source, raw: Any) -> tuple[FeedConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        src.problem(("feeds",), "expected a list of feeds, each `- {name: ..., url: ...}`")
        return ()
    feeds: list[FeedConfig] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        p: Path = ("feeds", i)
        if not _mapping(src, item, p):
            continue
        if "opml" in item:
            for f in _opml_feeds(src, item, p):
                if f.name in seen:
                    src.problem(
                        (*p, "opml"),
                        f"feed name {f.name!r} from the OPML file is "
                        "already used; rename one of them",
                    )
                    continue
                seen[f.name] = i
                feeds.append(f)
            continue
        _unknown(src, item, p, FEED_KEYS)
        name = _req(src, item, (*p, "name"), _name)
        url = _req(src, item, (*p, "url"), _url)
        if name is None or url is None:
            continue
        if name in seen:
            src.problem((*p, "name"), f"feed name {name!r} is already used by feeds[{seen[name]}]")
        seen[name] = i
        interval = _opt(src, item, (*p, "interval"), _duration, None)
        headers = _opt(src, item, (*p, "headers"), _headers, NO_HEADERS)
        feeds.append(
            FeedConfig(
                name=name,
                url=url,
                interval=interval,
                tags=_opt(src, item, (*p, "tags"), _str_list, NO_TEXT),
                extract=_opt(src, item, (*p, "extract"), _bool, True),
                headers=headers,
            )
        )
    return tuple(feeds)


def _opml_feeds(src: Source, item: dict[str, Any], p: Path) -> list[FeedConfig]:
    """`- opml: file.opml` (relative to the config file): every feed in it, sharing the
    entry's optional `tags`, `interval` and `extract`."""
    _unknown(src, item, p, OPML_KEYS)
    rel = _req(src, item, (*p, "opml"), _string)
    if rel is None:
        return []
    path = FsPath(src.file).parent / rel
    try:
        found = parse_opml(path.read_bytes())
    except OSError as exc:
        src.problem((*p, "opml"), f"cannot read OPML file {str(path)!r}: {exc.strerror}")
        return []
    except ParseError as exc:
        src.problem((*p, "opml"), f"{path}: {exc}")
        return []
    tags = _opt(src, item, (*p, "tags"), _str_list, NO_TEXT)
    interval = _opt(src, item, (*p, "interval"), _duration, None)
    extract = _opt(src, item, (*p, "extract"), _bool, True)
    return [
        FeedConfig(
            name=f.name,
            url=f.url,
            interval=interval,
            tags=tuple(dict.fromkeys((*tags, *f.tags))),
            extract=extract,
        )
        for f in found
    ]


def _terms(src: Source, raw: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if raw is None or not _mapping(src, raw, ("terms",)):
        return ()
    out = []
    for name, value in raw.items():
        p: Path = ("terms", name)
        if not _NAME.match(name):
            src.problem(p, "list names use letters, digits, '-', '_' and '.'")
        items = _check(src, p, value, _str_list)
        if items is not None:
            if not items:
                src.problem(p, "a term list needs at least one term")
            out.append((name, items))
    return tuple(out)


def _notifiers(src: Source, raw: Any) -> tuple[NotifierConfig, ...]:
    """`name: URL`, `name: [URL, ...]`, or `name: {urls: [...], rate_limit: ..., ...}`."""
    if raw is None or not _mapping(src, raw, ("notifiers",)):
        return ()
    out = []
    for name, value in raw.items():
        p: Path = ("notifiers", name)
        if not _NAME.match(name):
            src.problem(p, "notifier names use letters, digits, '-', '_' and '.'")
        if isinstance(value, dict):
            _unknown(src, value, p, NOTIFIER_KEYS)
            urls = _req(src, value, (*p, "urls"), _str_list)
            up: Path = (*p, "urls")
        else:
            urls, up, value = _check(src, p, value, _str_list), p, {}
        if urls is None:
            continue
        if not urls:
            src.problem(up, "a notifier needs at least one apprise URL")
        for i, url in enumerate(urls):
            if not any(pr.path == dotted((*up, i)) for pr in src.problems):  # no ${VAR} missing
                _apprise_url(src, (*up, i), url)
        fmt = _opt(src, value, (*p, "format"), _string, "auto")
        if fmt not in FORMATS:
            src.problem((*p, "format"), f"format is one of {', '.join(FORMATS)}")
        out.append(
            NotifierConfig(
                name=name,
                urls=urls,
                format=fmt,
                rate_limit=_opt(src, value, (*p, "rate_limit"), _rate, None),
                quiet_hours=_quiet_hours(src, value.get("quiet_hours"), (*p, "quiet_hours")),
                digest=_opt(src, value, (*p, "digest"), _digest, None),
                template=_template(src, value.get("template"), (*p, "template")),
                max_attempts=_opt(src, value, (*p, "max_attempts"), _positive_int, 12),
            )
        )
    return tuple(out)


def _apprise_url(src: Source, path: Path, url: str) -> None:
    quiet = logging.getLogger("apprise")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # apprise logs the URL, with its secrets, on failure
    try:
        ok = apprise.Apprise().add(url)
    finally:
        quiet.setLevel(level)
    if not ok:
        scheme = url.partition("://")[0] or "(none)"
        src.problem(
            path,
            f"apprise cannot use this URL (scheme {scheme!r}); check the scheme "
            "and its required parts at https://github.com/caronc/apprise/wiki",
        )


def _quiet_hours(src: Source, raw: Any, p: Path) -> QuietHours | None:
    if raw is None or not _mapping(src, raw, p):
        return None
    _unknown(src, raw, p, {"start", "end", "timezone"})
    start = _req(src, raw, (*p, "start"), _clock_time)
    end = _req(src, raw, (*p, "end"), _clock_time)
    zone = _opt(src, raw, (*p, "timezone"), _timezone, "UTC")
    return QuietHours(start, end, zone) if start and end else None


def _template(src: Source, raw: Any, p: Path) -> Template | None:
    if raw is None or not _mapping(src, raw, p):
        return None
    _unknown(src, raw, p, {"title", "body"})
    title = _opt(src, raw, (*p, "title"), _jinja, None)
    body = _opt(src, raw, (*p, "body"), _jinja, None)
    return Template(title=title, body=body)


def _rules(
    src: Source, raw: Any, notifiers: set[str], terms: dict[str, tuple[str, ...]]
) -> tuple[RuleConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        src.problem(("rules",), "expected a list of rules, each `- {name: ..., query: ...}`")
        return ()
    rules: list[RuleConfig] = []
    paths: list[Path] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        p: Path = ("rules", i)
        if not _mapping(src, item, p):
            continue
        _unknown(src, item, p, RULE_KEYS)
        name = _req(src, item, (*p, "name"), _name)
        if name is None:
            continue
        if name in seen:
            src.problem((*p, "name"), f"rule name {name!r} is used twice; names must be unique")
        seen.add(name)
        notify = _opt(src, item, (*p, "notify"), _str_list, NO_TEXT)
        for j, target in enumerate(notify):
            if target not in notifiers:
                known = ", ".join(sorted(notifiers)) or "none defined"
                src.problem(
                    (*p, "notify", j),
                    f"unknown notifier {target!r}; define it under notifiers: (known: {known})",
                )
        priority = _opt(src, item, (*p, "priority"), _string, "normal")
        if priority not in ("low", "normal", "high"):
            src.problem((*p, "priority"), "priority is one of low, normal, high")
        spec = RuleSpec(
            name=name,
            query=_opt(src, item, (*p, "query"), _string, None),
            any=_opt(src, item, (*p, "any"), _str_list, NO_TEXT),
            all=_opt(src, item, (*p, "all"), _str_list, NO_TEXT),
            none=_opt(src, item, (*p, "none"), _str_list, NO_TEXT),
            case_sensitive=_opt(src, item, (*p, "case_sensitive"), _bool, False),
            fields=_opt(src, item, (*p, "fields"), _str_list, ("title", "summary", "body")),
            feeds=_opt(src, item, (*p, "feeds"), _str_list, NO_TEXT),
            languages=_opt(src, item, (*p, "languages"), _str_list, NO_TEXT),
            min_score=_opt(src, item, (*p, "min_score"), _number, 0.0),
            priority=priority,
        )
        template = _template(src, item.get("template"), (*p, "template"))
        rules.append(
            RuleConfig(
                spec=spec,
                notify=notify,
                template=template,
                escalate_at=_opt(src, item, (*p, "escalate_at"), _positive_int, None),
                updates=_opt(src, item, (*p, "updates"), _bool, False),
            )
        )
        paths.append(p)
    by_name = {r.name: path for r, path in zip(rules, paths, strict=True)}
    for err in validate_rules([r.spec for r in rules], terms):
        path = by_name.get(err.rule, ("rules",))
        key = "query" if "query" in _at(src.data, path) else "name"
        src.problem((*path, key), err.detail + _position(err.position))
    return tuple(rules)


def _position(position: int | None) -> str:
    return f" (at character {position + 1} of the query)" if position is not None else ""


def _at(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


# -- value checkers: each returns the converted value or raises ValueError with advice ------


def _string(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected text, got {type(v).__name__} {v!r}")
    return v


def _name(v: Any) -> str:
    s = _string(v)
    if not _NAME.match(s):
        raise ValueError(f"{s!r} is not a valid name; use letters, digits, '-', '_' and '.'")
    return s


def _url(v: Any) -> str:
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
    if isinstance(v, str) and v.strip().lower() == "auto":
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"expected auto, 0 (threads only) or a number of processes, got {v!r}")
    return v


def _duration(v: Any) -> float:
    return parse_duration(v)


def _keep_for(v: Any) -> float:
    if isinstance(v, str) and v.strip().lower() == "forever":
        return math.inf
    seconds = parse_duration(v)
    if seconds < MIN_RETENTION:
        raise ValueError(f"expected at least 1d (or forever), got {v!r}")
    return seconds


def _rate(v: Any) -> tuple[int, float]:
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
    s = _string(v)
    try:
        ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {s!r}; use an IANA name like Asia/Baku") from exc
    return s


def _digest(v: Any) -> str:
    s = str(v).strip()
    if len(s.split()) == 5:
        try:
            CronTrigger.from_crontab(s, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {s!r}: {exc}") from exc
        return s
    parse_duration(s)
    return s


def _jinja(v: Any) -> str:
    s = _string(v)
    try:
        template_environment().parse(s)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template syntax error on its line {exc.lineno}: {exc.message}") from exc
    return s


def _size(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v
    m = _SIZE.match(str(v).strip())
    if not m or isinstance(v, bool):
        raise ValueError(f"expected a size like 10MB, 512KB or a byte count, got {v!r}")
    unit = (m.group(2) or "b").lower()[0]
    return int(m.group(1)) * {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def _str_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"expected a list of text items, got {v!r}")
    return tuple(v)


def _headers(v: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(v, dict) or not all(
        isinstance(k, str) and isinstance(x, str) for k, x in v.items()
    ):
        raise ValueError("expected a mapping of header names to text values")
    return tuple(v.items())


# -- plumbing ------------------------------------------------------------------------------


def _mapping(src: Source, raw: Any, path: Path) -> bool:
    if isinstance(raw, dict):
        return True
    src.problem(path, f"expected a mapping of keys, got {type(raw).__name__}")
    return False


def _unknown(src: Source, raw: dict[str, Any], path: Path, allowed: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            hint = _closest(key, allowed)
            src.problem(
                (*path, key),
                f"unknown key{f'; did you mean {hint!r}?' if hint else ''} "
                f"(allowed: {', '.join(sorted(allowed))})",
            )


def _closest(key: str, allowed: set[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.7)
    return found[0] if found else None


def _check(src: Source, path: Path, value: Any, conv: Callable[[Any], T]) -> T | None:
    try:
        return conv(value)
    except ValueError as exc:
        src.problem(path, str(exc))
        return None


def _opt(src: Source, raw: dict[str, Any], path: Path, conv: Callable[[Any], T], default: T) -> T:
    key = path[-1]
    if key not in raw or raw[key] is None:
        return default
    got = _check(src, path, raw[key], conv)
    return default if got is None else got


def _req(src: Source, raw: dict[str, Any], path: Path, conv: Callable[[Any], T]) -> T | None:
    key = path[-1]
    if key not in raw or raw[key] is None:
        src.problem(path, "is required")
        return None
    return _check(src, path, raw[key], conv)
