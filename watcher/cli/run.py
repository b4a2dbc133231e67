"""`watcher check` and `watcher run`: validating the config, and the daemon itself."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from watcher.cli.common import EXIT_CONFIG, EXIT_OK, load, open_store
from watcher.config import Config
from watcher.config.model import Template
from watcher.config.source import dotted, load_source
from watcher.errors import Problem

log = logging.getLogger("watcher")


def cmd_check(args: argparse.Namespace) -> int:
    config = load(args)
    problems = _template_problems(config)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} config error(s)", file=sys.stderr)
        return EXIT_CONFIG
    print(
        f"{config.path}: OK: {len(config.feeds)} feed(s), {len(config.rules)} rule(s), "
        f"{len(config.notifiers)} notifier(s)"
    )
    return EXIT_OK


def _template_problems(config: Config) -> list[Problem]:
    """Every user template rendered against sample stories (the loader checks only syntax)."""
    from watcher.notify.templates import sample_failures

    found: list[tuple[tuple[str | int, ...], str]] = []
    templates: list[tuple[str, str | int, Template | None]] = [
        ("rules", i, r.template) for i, r in enumerate(config.rules)
    ]
    templates += [("notifiers", n.name, n.template) for n in config.notifiers]
    for kind, i, template in templates:
        if template is not None:
            for failure in sample_failures(template.title, template.body):
                found.append(((kind, i, "template"), failure))
    if not found:
        return []
    try:
        text = Path(config.path).read_text(encoding="utf-8")
    except OSError:
        text = ""
    src = load_source(config.path, text, {})
    return [Problem(config.path, src.line(path), dotted(path), msg) for path, msg in found]


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
