"""The argument parser: every command, its options and help, in one place.

Building it imports nothing beyond argparse and the duration parser, so `watcher --help` and
shell completion stay instant.
"""

from __future__ import annotations

import argparse
import os

from watcher import __version__
from watcher.config.durations import parse_duration


def _age(text: str) -> float:
    """`--since 2h`: seconds, or a usage error (exit 2) that says what a duration looks like."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file (default: $WATCHER_CONFIG or ./config/watcher.yaml)",
    )
    common.add_argument(
        "--log-level",
        default=os.environ.get("WATCHER_LOG_LEVEL", "INFO"),
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (default: $WATCHER_LOG_LEVEL or INFO)",
    )
    common.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="log line format"
    )
    parser = argparse.ArgumentParser(
        prog="watcher", description="Watch news feeds, match keyword rules, alert once per story."
    )
    parser.add_argument("--version", action="version", version=f"watcher {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser(
        "check", parents=[common], help="validate the config; exit 2 listing every error"
    )
    check.add_argument(
        "--strict", action="store_true", help="exit 2 on warnings too (for CI and git hooks)"
    )
    run = sub.add_parser("run", parents=[common], help="run the daemon")
    run.add_argument(
        "--once", action="store_true", help="poll every feed once, deliver pending alerts, exit"
    )
    matches = sub.add_parser("matches", parents=[common], help="stored matches, newest first")
    matches.add_argument("--rule", metavar="R", help="only this rule's matches")
    matches.add_argument(
        "--since", type=_age, metavar="AGE", help="only matches newer than this, e.g. 2h, 7d"
    )
    matches.add_argument("--limit", type=int, default=None, metavar="N", help="at most N matches")
    matches.add_argument("--json", action="store_true", help="one JSON object per line")
    db = sub.add_parser("db", parents=[common], help="database maintenance")
    db.add_argument(
        "action",
        nargs="?",
        choices=["upgrade", "stats"],
        help="upgrade: apply schema migrations; stats: row counts and size",
    )
    config = sub.add_parser("config", parents=[common], help="config tools")
    config.add_argument("action", choices=["schema"], help="schema: print the JSON Schema")
    ntest = sub.add_parser(
        "notify-test", parents=[common], help="send a test alert through every URL of one notifier"
    )
    ntest.add_argument("notifier", metavar="NOTIFIER", help="a name under notifiers:")
    deliveries = sub.add_parser(
        "deliveries",
        parents=[common],
        help="list alert deliveries; `deliveries retry` requeues them",
    )
    deliveries.add_argument("action", nargs="?", choices=["retry"], help="requeue deliveries")
    deliveries.add_argument("ids", nargs="*", type=int, metavar="ID", help="delivery ids to retry")
    deliveries.add_argument("--all-dead", action="store_true", help="with retry: every dead one")
    deliveries.add_argument(
        "--status",
        choices=["pending", "held", "sent", "dead", "failed"],
        help="only deliveries in this state (failed: pending with an error)",
    )
    deliveries.add_argument("--limit", type=int, default=200, metavar="N", help="at most N rows")
    deliveries.add_argument("--json", action="store_true", help="one JSON object per line")
    explain = sub.add_parser(
        "explain",
        parents=[common],
        help="show each rule's verdict, terms and snippets for one article",
    )
    explain.add_argument("target", metavar="URL_OR_FILE", help="an article URL or a saved page")
    explain.add_argument("--rule", metavar="R", help="only this rule")
    explain.add_argument(
        "--feed",
        metavar="NAME",
        help="judge the article as coming from this feed (default: the one feed on its host)",
    )
    backtest = sub.add_parser(
        "backtest",
        parents=[common],
        help="run the current rules over stored stories; sends nothing",
    )
    backtest.add_argument(
        "--since",
        type=_age,
        metavar="AGE",
        default="30d",
        help="stories first seen within this age (default 30d)",
    )
    backtest.add_argument("--rule", metavar="R", help="only this rule")
    backtest.add_argument("--json", action="store_true", help="one JSON object per rule")
    opml = sub.add_parser(
        "import-opml",
        parents=[common],
        help="print the feeds of an OPML file as YAML entries for feeds:",
    )
    opml.add_argument("file", metavar="FILE", help="an OPML subscription list")
    feeds = sub.add_parser(
        "feeds", parents=[common], help="every feed's health: status, errors, next poll, gaps"
    )
    feeds.add_argument("--json", action="store_true", help="one JSON object per feed and line")
    search = sub.add_parser(
        "search", parents=[common], help="full-text search of stored stories, rule query syntax"
    )
    search.add_argument(
        "query", metavar="QUERY", help="a rule query, e.g. 'karabakh \"peace talks\"'"
    )
    search.add_argument(
        "--since", type=_age, metavar="AGE", help="only stories first seen within this age"
    )
    search.add_argument(
        "--feed", action="append", metavar="NAME", help="only this feed (repeatable)"
    )
    search.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (default 20)")
    search.add_argument("--json", action="store_true", help="one JSON object per story and line")
    health = sub.add_parser(
        "healthcheck",
        parents=[common],
        help="exit 0 when the running daemon's /healthz answers, else 1 with the reason",
    )
    health.add_argument(
        "--url", help="check this URL instead of http://<http.listen>/healthz from the config"
    )
    health.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="give up after (default 5)"
    )
    health.add_argument("--quiet", action="store_true", help="print nothing when healthy")
    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="offline trial: bundled sample feeds on loopback, the daemon, alerts on the console",
    )
    demo.add_argument(
        "--listen",
        default=os.environ.get("WATCHER_DEMO_LISTEN", "127.0.0.1:8080"),
        metavar="ADDR",
        help="where the web UI listens (default $WATCHER_DEMO_LISTEN or 127.0.0.1:8080)",
    )
    demo.add_argument(
        "--every",
        type=_age,
        default="4s",
        metavar="AGE",
        help="publish a new sample story this often (default 4s)",
    )
    poll = sub.add_parser(
        "poll", parents=[common], help="poll one feed now and print what it found"
    )
    poll.add_argument("feed", metavar="FEED", help="a name under feeds:")
    completion = sub.add_parser("completion", help="print a shell completion script (bash or zsh)")
    completion.add_argument("shell", choices=["bash", "zsh"])
    return parser
