"""What every command shares: exit codes, loading the config, opening the store, `--since`.

Commands import their stage modules inside their own functions, so a read-only command loads
the store and nothing of the ingest stack or the HTTP client (tests/test_cli_imports.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from watcher.config import Config, config_path, load_config, parse_config
from watcher.errors import ConfigError
from watcher.logs import set_secrets

if TYPE_CHECKING:
    from watcher.store import Store

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def load(args: argparse.Namespace) -> Config:
    config = load_config(config_path(args.config))
    set_secrets(config.secrets)
    return config


def load_for_reading(args: argparse.Namespace) -> Config:
    """The config for a read-only command. An invalid edit must not lock people out of what
    is stored while the daemon runs on its last good config, so on config errors this falls
    back to the `database` setting alone, and says so on stderr."""
    try:
        return load(args)
    except ConfigError as exc:
        path = Path(config_path(args.config))
        config = database_only(path, os.environ)
        if config is None:
            raise
        print(
            f"warning: {path} has {len(exc.problems)} config error(s) (see `watcher check`); "
            "reading the database only, without rules or feeds",
            file=sys.stderr,
        )
        set_secrets(config.secrets)
        return config


def database_only(path: Path, env: Mapping[str, str]) -> Config | None:
    """A config holding only the file's `database` setting, or None when that is unusable."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, yaml.YAMLError):
        raw = None
    database = raw.get("database") if isinstance(raw, dict) else None
    if isinstance(database, dict):
        database = database.get("url")
    text = yaml.safe_dump({"database": database}) if isinstance(database, str) else ""
    if not text and "WATCHER_DATABASE_URL" not in env:
        return None
    try:
        return parse_config(str(path), text or "{}", env)
    except ConfigError:
        return None


def unknown_name(kind: str, name: str, known: Iterable[str], where: object) -> int:
    """One message for every command given a name that does not exist: exit 2, known names."""
    names = sorted(set(known))
    listed = ", ".join(names) if names else "none defined"
    print(f"no {kind} named {name!r} in {where} (known: {listed})", file=sys.stderr)
    return EXIT_CONFIG


def nothing(message: str) -> int:
    """An empty result: one line on stderr, so stdout (and --json) stays clean; exit 0."""
    print(message, file=sys.stderr)
    return EXIT_OK


@contextmanager
def open_store(config: Config, *, ensure_schema: bool = True) -> Iterator[Store]:
    """The database, at the current schema (upgraded where the config allows), closed after."""
    from watcher.store import Store

    store = Store(config.database)
    try:
        if ensure_schema:
            store.ensure_schema(config.auto_upgrade)
        yield store
    finally:
        store.close()


def age_words(age: float | None) -> str:
    """`--since` as people say it: 'in the last 2h'."""
    from watcher.config import format_duration

    return f"in the last {format_duration(age)}" if age is not None else "stored"


def wider(age: float) -> str:
    """The next `--since` worth trying after an empty answer."""
    from watcher.config import format_duration

    for step in (86400, 7 * 86400, 30 * 86400, 365 * 86400):
        if step > age:
            return format_duration(step)
    return format_duration(age * 2)


def since(age: float | None) -> datetime | None:
    """`--since 2h` as a point in time (None: no limit)."""
    from watcher.clock import utcnow

    return None if age is None else utcnow() - timedelta(seconds=age)


def iso(d: datetime | None) -> str | None:
    return d.astimezone(UTC).isoformat().replace("+00:00", "Z") if d is not None else None


def print_json(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def usage_error(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_CONFIG
