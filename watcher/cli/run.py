"""`watcher check` and `watcher run`: validating the config, and the daemon itself."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from watcher.cli.common import EXIT_OK, load, open_store

log = logging.getLogger("watcher")


def cmd_check(args: argparse.Namespace) -> int:
    config = load(args)
    print(
        f"{config.path}: OK: {len(config.feeds)} feed(s), {len(config.rules)} rule(s), "
        f"{len(config.notifiers)} notifier(s)"
    )
    from watcher.config import variable_origins

    for name, (origin, masked) in variable_origins(config.path).items():
        print(f"  ${{{name}}} from {origin}: {masked}")
    return EXIT_OK


def _stop_during_startup(signum: int, frame: object) -> None:
    """SIGTERM before the daemon's own handlers are installed (imports, schema, workers take a
    few seconds on a busy machine) is a stop request like any other: exit 0, nothing started."""
    raise KeyboardInterrupt


def cmd_run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _stop_during_startup)
    from watcher.daemon.scheduler import Daemon, run_once
    from watcher.store.lock import ProcessLock

    config = load(args)
    with ProcessLock(config.database), open_store(config) as store:
        if not args.once:
            asyncio.run(Daemon(config, store).run())
            return EXIT_OK
        reports = asyncio.run(run_once(config, store))
    log.info(
        "once: polled %d feed(s), %d failed, %d new stories, %d matched",
        len(reports),
        sum(1 for r in reports if r.error),
        sum(r.new for r in reports),
        sum(r.matched for r in reports),
    )
    return EXIT_OK
