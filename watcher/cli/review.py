"""`watcher explain` and `watcher backtest`: trying rules on one article or on what is stored."""

from __future__ import annotations

import argparse
import asyncio
import json

from watcher.cli.common import EXIT_OK, load, open_store, since, unknown_name


def cmd_explain(args: argparse.Namespace) -> int:
    from watcher.review.explain import explain, feed_for_url, load_article, render
    from watcher.rules import RuleSet

    config = load(args)
    if args.rule and args.rule not in {r.name for r in config.rules}:
        return unknown_name("rule", args.rule, [r.name for r in config.rules], config.path)
    feed = config.feed(args.feed) if args.feed else feed_for_url(config, args.target)
    if args.feed and feed is None:
        return unknown_name("feed", args.feed, [f.name for f in config.feeds], config.path)
    rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
    article = asyncio.run(load_article(args.target, config))
    print(render(article, explain(rules, article, args.rule, feed), feed))
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    from watcher.review.backtest import backtest, render

    config = load(args)
    if args.rule and args.rule not in {r.name for r in config.rules}:
        return unknown_name("rule", args.rule, [r.name for r in config.rules], config.path)
    start = since(args.since)
    assert start is not None  # --since has a default
    with open_store(config) as store:
        result = backtest(config, store, start, args.rule)
    if args.json:
        for o in result.outcomes:
            print(json.dumps(o.__dict__ | {"stories": result.stories}, ensure_ascii=False))
    else:
        print(render(result))
    return EXIT_OK
