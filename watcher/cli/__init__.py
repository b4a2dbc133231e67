"""The `watcher` command line: one module per command group, and this edge, where a
WatcherError becomes a message and an exit code.

Exit codes: 0 success, 1 a runtime failure (database, network, ...), 2 bad config or usage.
Each command module imports its stages inside the command, so `watcher matches` loads the store
and not the ingest stack or the HTTP client.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from watcher.cli.common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from watcher.cli.config import cmd_config
from watcher.cli.db import cmd_db
from watcher.cli.demo import cmd_demo
from watcher.cli.feeds import cmd_feeds, cmd_import_opml
from watcher.cli.healthcheck import cmd_healthcheck
from watcher.cli.matches import cmd_matches
from watcher.cli.notify import cmd_deliveries, cmd_notify_test
from watcher.cli.parser import build_parser
from watcher.cli.review import cmd_backtest, cmd_explain
from watcher.cli.run import cmd_check, cmd_poll, cmd_run
from watcher.cli.search import cmd_search
from watcher.errors import ConfigError, WatcherError
from watcher.logs import setup_logging

log = logging.getLogger("watcher")

COMMANDS: dict[str, Callable[..., int]] = {
    "check": cmd_check,
    "run": cmd_run,
    "matches": cmd_matches,
    "import-opml": cmd_import_opml,
    "explain": cmd_explain,
    "backtest": cmd_backtest,
    "feeds": cmd_feeds,
    "notify-test": cmd_notify_test,
    "deliveries": cmd_deliveries,
    "db": cmd_db,
    "search": cmd_search,
    "config": cmd_config,
    "poll": cmd_poll,
    "healthcheck": cmd_healthcheck,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # plain `watcher`: what it can do
        parser.print_help()
        return EXIT_OK
    if args.command == "completion":
        import shtab

        print(shtab.complete(parser, shell=args.shell))
        return EXIT_OK
    setup_logging(args.log_level, args.log_format)
    try:
        return int(COMMANDS[args.command](args))
    except BrokenPipeError:  # `watcher matches --json | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return EXIT_OK
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} config error(s); nothing was started", file=sys.stderr)
        return EXIT_CONFIG
    except WatcherError as exc:
        log.error("%s", exc)
        return EXIT_FAILURE
    except SQLAlchemyError as exc:  # the database went away or refused a statement
        log.error("database error: %s", getattr(exc, "orig", None) or exc)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_OK", "build_parser", "main"]
