"""`watcher matches`: stored matches, newest first, one per story cluster and rule."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from watcher.cli.common import (
    EXIT_OK,
    age_words,
    iso,
    load_for_reading,
    nothing,
    open_store,
    print_json,
    since,
    unknown_name,
    wider,
)

if TYPE_CHECKING:
    from watcher.store import StoredMatch


def cmd_matches(args: argparse.Namespace) -> int:
    from watcher.store import list_matches
    from watcher.store.matches import stored_rule_names

    config = load_for_reading(args)
    with open_store(config) as store:
        if args.rule is not None:
            known = {r.name for r in config.rules} | set(stored_rule_names(store))
            if args.rule not in known:
                return unknown_name("rule", args.rule, known, config.path)
        rows = list_matches(store, rule=args.rule, since=since(args.since), limit=args.limit)
    if not rows:
        rule = f" for rule {args.rule}" if args.rule else ""
        hint = "" if args.since is None else f" (try --since {wider(args.since)})"
        return nothing(f"no matches{rule} {age_words(args.since)}{hint}")
    for m in rows:
        if args.json:
            print_json(match_json(m))
        else:
            print(render_match(m))
    return EXIT_OK


def render_match(m: StoredMatch) -> str:
    lines = [
        f"{m.matched_at.strftime('%Y-%m-%d %H:%M')}  {m.rule}  [{m.feed}]  {m.title}",
        f"    terms: {', '.join(m.terms)}",
    ]
    if m.snippet:
        lines.append(f"    {m.snippet}")
    if m.url:
        lines.append(f"    {m.url}")
    if m.sources:
        lines.append(f"    also reported by: {', '.join(m.sources)}")
    return "\n".join(lines)


def match_json(m: StoredMatch) -> dict[str, Any]:
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
