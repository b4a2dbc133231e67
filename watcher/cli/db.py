"""`watcher db upgrade` and `watcher db stats`."""

from __future__ import annotations

import argparse

from watcher.cli.common import EXIT_OK, load, load_for_reading, open_store, usage_error


def cmd_db(args: argparse.Namespace) -> int:
    if args.action is None:
        return usage_error(
            "watcher db: say what to do: `watcher db upgrade` (apply schema migrations) or "
            "`watcher db stats` (row counts and size)"
        )
    config = load(args) if args.action == "upgrade" else load_for_reading(args)
    if args.action == "upgrade":
        from watcher.store.migrate import upgrade

        with open_store(config, ensure_schema=False) as store:
            before, after = upgrade(store)
        print(
            f"schema at revision {after}"
            + (f" (was {before or 'empty'})" if before != after else " (already current)")
        )
        return EXIT_OK
    from watcher.store.stats import db_stats, render_stats

    with open_store(config) as store:
        print(render_stats(db_stats(store)))
    return EXIT_OK
