"""`watcher feeds` and `watcher import-opml`: the feeds being watched, and adding more."""

from __future__ import annotations

import argparse
import os
import sys

from watcher.cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    load,
    load_for_reading,
    nothing,
    open_store,
    print_json,
)
from watcher.errors import WatcherError


def cmd_feeds(args: argparse.Namespace) -> int:
    from watcher.cli.feed_report import feed_report, format_report
    from watcher.clock import utcnow
    from watcher.store import all_feed_states

    config = load_for_reading(args)
    now = utcnow()
    with open_store(config) as store:
        report = feed_report(config, all_feed_states(store), now)
    if not report:
        return nothing(f"no feeds configured in {config.path}")
    if args.json:
        for row in report:
            print_json(row)
    else:
        print(format_report(report, now))
    return EXIT_OK


def cmd_import_opml(args: argparse.Namespace) -> int:
    """Entries to paste under `feeds:`; given a config (-c or $WATCHER_CONFIG) the feeds it
    already has are skipped, by name and by URL, so the paste never collides."""
    from watcher.config.opml import Dropped, parse_opml, to_yaml

    existing = None
    if args.config or os.environ.get("WATCHER_CONFIG"):
        existing = load(args)
    names = frozenset(f.name for f in existing.feeds) if existing else frozenset()
    urls = frozenset(f.url for f in existing.feeds) if existing else frozenset()
    dropped: list[Dropped] = []
    try:
        with open(args.file, "rb") as fh:
            feeds = parse_opml(fh.read(), dropped, taken=names, known_urls=urls)
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    except WatcherError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    where = f" in {existing.path}" if existing else ""
    print(f"# {len(feeds)} feed(s) from {args.file}: paste under feeds:{where}")
    sys.stdout.write(to_yaml(feeds))
    for d in dropped:
        print(
            f"skipped {d.title or '(untitled)'} {d.url}".rstrip() + f": {d.reason}", file=sys.stderr
        )
    return EXIT_OK
