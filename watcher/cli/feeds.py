"""`watcher feeds` and `watcher import-opml`: the feeds being watched, and adding more."""

from __future__ import annotations

import argparse
import sys

from watcher.cli.common import EXIT_CONFIG, EXIT_OK, load, open_store, print_json
from watcher.errors import WatcherError


def cmd_feeds(args: argparse.Namespace) -> int:
    from watcher.clock import utcnow
    from watcher.daemon.health import feed_report, format_report
    from watcher.store import all_feed_states

    config = load(args)
    now = utcnow()
    with open_store(config) as store:
        report = feed_report(config, all_feed_states(store), now)
    if args.json:
        for row in report:
            print_json(row)
    else:
        print(format_report(report, now))
    return EXIT_OK


def cmd_import_opml(args: argparse.Namespace) -> int:
    from watcher.config.opml import parse_opml, to_yaml

    try:
        with open(args.file, "rb") as fh:
            feeds = parse_opml(fh.read())
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    except WatcherError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    sys.stdout.write(to_yaml(feeds))
    print(f"# {len(feeds)} feed(s) from {args.file}", file=sys.stderr)
    return EXIT_OK
