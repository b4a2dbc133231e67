"""Read the YAML file, validate it into frozen `Config` objects, collecting every problem first.

The steps, each in its own module: `source` parses YAML and keeps the line of every key path
(with `${VAR}` substituted by `env`); the pydantic models in `model` validate each value;
`problems` turns pydantic's errors into `FILE:LINE: path.to.key: message`; `checks` does what
needs several keys at once (unique names, references, queries, OPML files). Only then is the
run-time `Config` built, so a config with any problem never reaches a stage.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path as FsPath
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from watcher.config.checks import (
    check_feeds,
    check_health_notify,
    check_rules,
    check_section_bounds,
)
from watcher.config.model import (
    Config,
    ConfigFile,
    FeedConfig,
    NotifierConfig,
    NotifierSettings,
    RuleConfig,
    RuleDelivery,
)
from watcher.config.problems import to_problems
from watcher.config.safety import redact
from watcher.config.source import Source, load_source, resolve_var
from watcher.errors import ConfigError, Problem

DEFAULT_PATH = "config/watcher.yaml"


def config_path(cli_value: str | None, env: Mapping[str, str] | None = None) -> str:
    """`-c FILE`, else `$WATCHER_CONFIG`, else `./config/watcher.yaml`."""
    env = os.environ if env is None else env
    return cli_value or env.get("WATCHER_CONFIG") or DEFAULT_PATH


def load_config(path: str, env: Mapping[str, str] | None = None) -> Config:
    """Read, substitute, validate. Raises ConfigError listing every problem found."""
    env = dict(os.environ) if env is None else dict(env)
    try:
        data = FsPath(path).read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(path, 0, "", f"cannot read config: {exc.strerror}")]) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            [
                Problem(
                    path,
                    line,
                    "",
                    f"not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); save the "
                    "file as UTF-8 in your editor",
                )
            ]
        ) from exc
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
        raise ConfigError(redact(src.problems, src.data, src.secrets))
    if not isinstance(src.data, dict):
        src.problem((), "the config must be a mapping of keys (database, feeds, rules, ...)")
        raise ConfigError(redact(src.problems, src.data, src.secrets))
    file, feeds = validate(src)
    if file is None or src.problems:
        raise ConfigError(redact(sorted(src.problems, key=lambda p: p.line), src.data, src.secrets))
    return build(src, file, feeds, env)


def validate(src: Source) -> tuple[ConfigFile | None, list[FeedConfig]]:
    """Every problem goes to `src.problems`. Returns the file as validated (None if some key
    was invalid) and its feeds with OPML entries expanded."""
    data = src.data
    taken = {p.path for p in src.problems}  # a missing ${VAR} says enough about its value
    file: ConfigFile | None = None
    try:
        file = ConfigFile.model_validate(data)
    except ValidationError as exc:
        src.problems += [p for p in to_problems(exc, src, ConfigFile) if p.path not in taken]
    if file is None:
        check_section_bounds(src, data)
    check_health_notify(src, data)
    check_rules(src, data)
    return file, check_feeds(src, data)


def build(src: Source, file: ConfigFile, feeds: list[FeedConfig], env: Mapping[str, str]) -> Config:
    if isinstance(file.database, str):
        database, auto_upgrade = file.database, None
    else:
        database, auto_upgrade = file.database.url, file.database.auto_upgrade
    database = env.get("WATCHER_DATABASE_URL") or database
    notifiers = tuple(
        NotifierConfig.model_construct(name=name, **dict(_settings(value)))
        for name, value in file.notifiers.items()
    )
    rules = tuple(
        RuleConfig(spec=r.spec(), **{k: getattr(r, k) for k in RuleDelivery.model_fields})
        for r in file.rules
    )
    secrets = set(src.secrets)
    for n in notifiers:
        for url in n.urls:
            secrets |= url_secrets(url)
    secrets |= url_secrets(database, paths=False)
    secrets.add(file.http.token)
    return Config(
        path=src.file,
        database=database,
        auto_upgrade=auto_upgrade,
        http=file.http,
        polling=file.polling,
        retention=file.retention,
        feeds=tuple(feeds),
        terms=tuple(file.terms.items()),
        notifiers=notifiers,
        rules=rules,
        secrets=frozenset(s for s in secrets if len(s) >= 4),
    )


def _settings(value: NotifierSettings | tuple[str, ...]) -> NotifierSettings:
    """`name: URL` and `name: [URL, ...]` are `name: {urls: [...]}` with every default."""
    if isinstance(value, NotifierSettings):
        return value
    return NotifierSettings.model_construct(urls=value)


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
