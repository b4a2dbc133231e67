"""The `watcher` command line. The edge where WatcherError becomes a message and an exit code.

Exit codes: 0 success, 1 a runtime failure (database, network, ...), 2 bad config or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from watcher import __version__
from watcher.config import Config, config_path, load_config, parse_duration
from watcher.errors import ConfigError, WatcherError
from watcher.logs import mask, set_secrets, setup_logging

log = logging.getLogger("watcher")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


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
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "check", parents=[common], help="validate the config; exit 2 listing every error"
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
        choices=["upgrade", "stats"],
        help="upgrade: apply schema migrations; stats: row counts and size",
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        return int(COMMANDS[args.command](args))
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


def _load(args: argparse.Namespace) -> Config:
    config = load_config(config_path(args.config))
    set_secrets(config.secrets)
    return config


def cmd_check(args: argparse.Namespace) -> int:
    config = _load(args)
    from watcher.rules.lint import term_warnings

    for warning in term_warnings([r.spec for r in config.rules], config.term_lists):
        print(f"{config.path}: warning: {warning}", file=sys.stderr)
    print(
        f"{config.path}: OK: {len(config.feeds)} feed(s), {len(config.rules)} rule(s), "
        f"{len(config.notifiers)} notifier(s)"
    )
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args)
    from watcher.scheduler import Daemon, run_once
    from watcher.store import Store
    from watcher.store.lock import ProcessLock

    store = Store(config.database)
    try:
        lock = ProcessLock(config.database).__enter__()
    except WatcherError:
        store.close()
        raise
    store.ensure_schema(config.auto_upgrade)
    try:
        if args.once:
            reports = asyncio.run(run_once(config, store))
            failed = sum(1 for r in reports if r.error)
            log.info(
                "once: polled %d feed(s), %d failed, %d new stories, %d matched",
                len(reports),
                failed,
                sum(r.new for r in reports),
                sum(r.matched for r in reports),
            )
        else:
            asyncio.run(Daemon(config, store).run())
    finally:
        store.close()
        lock.__exit__()
    return EXIT_OK


def cmd_matches(args: argparse.Namespace) -> int:
    config = _load(args)
    from watcher.scheduler import utcnow
    from watcher.store import Store, list_matches

    since = None
    if args.since is not None:
        since = utcnow() - timedelta(seconds=args.since)
    store = Store(config.database)
    store.ensure_schema(config.auto_upgrade)
    try:
        rows = list_matches(store, rule=args.rule, since=since, limit=args.limit)
    finally:
        store.close()
    for m in rows:
        if args.json:
            print(json.dumps(_match_json(m), ensure_ascii=False))
        else:
            when = m.matched_at.strftime("%Y-%m-%d %H:%M")
            print(f"{when}  {m.rule}  [{m.feed}]  {m.title}")
            print(f"    terms: {', '.join(m.terms)}")
            if m.snippet:
                print(f"    {m.snippet}")
            if m.url:
                print(f"    {m.url}")
            if m.sources:
                print(f"    also reported by: {', '.join(m.sources)}")
    return EXIT_OK


def _match_json(m: Any) -> dict[str, Any]:
    def iso(d: Any) -> str | None:
        return d.astimezone(UTC).isoformat().replace("+00:00", "Z") if d is not None else None

    return {
        "rule": m.rule,
        "url": m.url,
        "title": m.title,
        "feed": m.feed,
        "terms": m.terms,
        "hits": m.hits,
        "snippet": m.snippet,
        "score": m.score,
        "published_at": iso(m.published_at),
        "matched_at": iso(m.matched_at),
        "sources": m.sources,
    }


def cmd_explain(args: argparse.Namespace) -> int:
    from watcher.explain import explain, load_article, render
    from watcher.rules import RuleSet

    config = _load(args)
    rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
    article = asyncio.run(load_article(args.target, config))
    print(render(article, explain(rules, article, args.rule)))
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    from watcher.backtest import backtest, render
    from watcher.scheduler import utcnow
    from watcher.store import Store

    config = _load(args)
    since = utcnow() - timedelta(seconds=args.since)
    if args.rule and args.rule not in {r.name for r in config.rules}:
        print(f"--rule: no rule named {args.rule!r} in {config.path}", file=sys.stderr)
        return EXIT_CONFIG
    store = Store(config.database)
    store.ensure_schema(config.auto_upgrade)
    try:
        result = backtest(config, store, since, args.rule)
    finally:
        store.close()
    if args.json:
        for o in result.outcomes:
            print(json.dumps(o.__dict__ | {"stories": result.stories}, ensure_ascii=False))
    else:
        print(render(result))
    return EXIT_OK


def cmd_import_opml(args: argparse.Namespace) -> int:
    from watcher.opml import parse_opml, to_yaml

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


def cmd_feeds(args: argparse.Namespace) -> int:
    config = _load(args)
    from watcher.health import feed_report, format_report
    from watcher.scheduler import utcnow
    from watcher.store import Store, all_feed_states

    store = Store(config.database)
    store.ensure_schema(config.auto_upgrade)
    try:
        now = utcnow()
        report = feed_report(config, all_feed_states(store), now)
    finally:
        store.close()
    if args.json:
        for row in report:
            print(json.dumps(row, ensure_ascii=False))
    else:
        print(format_report(report, now))
    return EXIT_OK


def cmd_notify_test(args: argparse.Namespace) -> int:
    from watcher.notify import message_for, send_one
    from watcher.scheduler import utcnow
    from watcher.store import Claimed
    from watcher.templates import alert_context
    from watcher.url_mask import masked_url

    config = _load(args)
    notifier = config.notifier(args.notifier)
    if notifier is None:
        known = ", ".join(n.name for n in config.notifiers) or "none defined"
        print(
            f"no notifier named {args.notifier!r} in {config.path} (known: {known})",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    hit = {
        "term": "watcher",
        "field": "body",
        "text": "watcher",
        "snippet": "This is a test alert from watcher.",
        "mark": [20, 27],
    }
    context = alert_context(
        {
            "title": "watcher test alert",
            "url": "https://example.org/watcher-test",
            "feed": "notify-test",
            "published_at": utcnow().isoformat(),
            "language": "en",
            "summary": "",
        },
        [
            {
                "name": "notify-test",
                "priority": "normal",
                "score": 1,
                "terms": ["watcher"],
                "hits": [hit],
            }
        ],
        matched_at=utcnow(),
    )
    claim = Claimed(
        id=0,
        alert_id=0,
        notifier=notifier.name,
        target=0,
        attempts=0,
        priority="normal",
        kind="alert",
        title="",
        context=context,
        rule_template=None,
    )
    failures = 0
    for url in notifier.urls:
        title, body, fmt = message_for(claim, notifier, url)
        ok, error = asyncio.run(send_one(url, title, body, fmt))
        outcome = "sent" if ok else f"FAILED: {mask(error, config.secrets)}"
        print(f"{masked_url(url)}: {outcome}")
        failures += not ok
    return EXIT_OK if not failures else EXIT_FAILURE


def cmd_deliveries(args: argparse.Namespace) -> int:
    from watcher.store import Store
    from watcher.store.outbox import list_deliveries, retry

    config = _load(args)
    store = Store(config.database)
    store.ensure_schema(config.auto_upgrade)
    try:
        if args.action == "retry":
            if not args.ids and not args.all_dead:
                print("deliveries retry: give delivery IDs or --all-dead", file=sys.stderr)
                return EXIT_CONFIG
            n = retry(store, args.ids, args.all_dead)
            print(f"{n} deliver{'y' if n == 1 else 'ies'} requeued")
            return EXIT_OK
        status = "pending" if args.status == "failed" else args.status
        rows = list_deliveries(store, status, args.limit)
    finally:
        store.close()
    if args.status == "failed":
        rows = [r for r in rows if r.last_error]
    for r in rows:
        if args.json:
            print(
                json.dumps(
                    {
                        k: (v.isoformat() if hasattr(v, "isoformat") else v)
                        for k, v in r.__dict__.items()
                    },
                    ensure_ascii=False,
                )
            )
        else:
            when = (r.sent_at or r.next_attempt_at).strftime("%Y-%m-%d %H:%M")
            print(
                f"{r.id:>6}  {r.status:<7} {r.notifier}[{r.target}]  attempts={r.attempts}  "
                f"{when}  {r.title}"
            )
            if r.last_error:
                print(f"        last error: {r.last_error}")
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    from watcher.store import Store
    from watcher.store.migrate import upgrade

    config = _load(args)
    store = Store(config.database)
    try:
        if args.action == "upgrade":
            before, after = upgrade(store)
            print(
                f"schema at revision {after}"
                + (f" (was {before or 'empty'})" if before != after else " (already current)")
            )
        else:
            from watcher.store.stats import db_stats, render_stats

            store.ensure_schema(config.auto_upgrade)
            print(render_stats(db_stats(store)))
    finally:
        store.close()
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    from watcher.errors import RuleError
    from watcher.scheduler import utcnow
    from watcher.search import compile_search, query_error, render_result, result_json
    from watcher.store import Store
    from watcher.store.search import search

    config = _load(args)
    try:
        query = compile_search(args.query, config.term_lists)
    except RuleError as exc:
        print(query_error(args.query, exc), file=sys.stderr)
        return EXIT_CONFIG
    if args.limit < 1:
        print("--limit: must be at least 1", file=sys.stderr)
        return EXIT_CONFIG
    since = None
    if args.since is not None:
        since = utcnow() - timedelta(seconds=args.since)
    store = Store(config.database)
    try:
        store.ensure_schema(config.auto_upgrade)
        results = search(store, query, since=since, feeds=args.feed or (), limit=args.limit)
    finally:
        store.close()
    for r in results:
        print(json.dumps(result_json(r), ensure_ascii=False) if args.json else render_result(r))
    if not results and not args.json:
        print("no stories found", file=sys.stderr)
    return EXIT_OK


COMMANDS = {
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
}
