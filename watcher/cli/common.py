"""What every command shares: exit codes, loading the config, opening the store, `--since`.

Commands import their stage modules inside their own functions, so a read-only command loads
the store and nothing of the ingest stack or the HTTP client (tests/test_cli_imports.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from watcher.config import Config, config_path, load_config
from watcher.logs import set_secrets

if TYPE_CHECKING:
    from watcher.store import Store

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def load(args: argparse.Namespace) -> Config:
    config = load_config(config_path(args.config))
    set_secrets(config.secrets)
    return config


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
