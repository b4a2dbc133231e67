"""`watcher search`: stored stories found with the rule language, best first."""

from __future__ import annotations

import argparse
import re
from datetime import UTC
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
    usage_error,
    wider,
)

if TYPE_CHECKING:
    from watcher.errors import RuleError
    from watcher.rules.fulltext import SearchResult


def cmd_search(args: argparse.Namespace) -> int:
    from watcher.errors import RuleError
    from watcher.rules.fulltext import compile_search
    from watcher.store.search import search

    config = load_for_reading(args)
    try:
        query = compile_search(args.query, config.term_lists)
    except RuleError as exc:
        return usage_error(query_error(args.query, exc))
    if args.limit < 1:
        return usage_error("--limit: must be at least 1")
    with open_store(config) as store:
        if args.feed:
            from watcher.store.matches import stored_feed_names

            known = {f.name for f in config.feeds} | set(stored_feed_names(store))
            for name in args.feed:
                if name not in known:
                    return unknown_name("feed", name, known, config.path)
        results = search(
            store, query, since=since(args.since), feeds=args.feed or (), limit=args.limit
        )
    for r in results:
        if args.json:
            print_json(result_json(r))
        else:
            print(render_result(r))
    if not results:
        hint = "" if args.since is None else f" (try --since {wider(args.since)})"
        return nothing(f"no stories found {age_words(args.since)}{hint}")
    return EXIT_OK


def query_error(query: str, exc: RuleError) -> str:
    """The error, and the query with a caret under the position it names."""
    lines = [
        f"search: {exc.detail}"
        + (f" (at character {exc.position + 1})" if exc.position is not None else "")
    ]
    if exc.position is not None:
        flat = re.sub(r"\s", " ", query)
        lines += [f"  {flat}", "  " + " " * exc.position + "^"]
    return "\n".join(lines)


def result_json(r: SearchResult) -> dict[str, Any]:
    """One `--json` line; `hits` has the shape `watcher matches --json` uses."""
    return {
        "id": r.id,
        "feed": r.feed,
        "title": r.title,
        "url": r.url,
        "language": r.language,
        "published_at": iso(r.published_at),
        "first_seen_at": iso(r.first_seen_at),
        "score": r.score,
        "rank": r.rank,
        "terms": list(r.terms),
        "snippet": r.hits[0].marked() if r.hits else "",
        "hits": [h.as_dict() for h in r.hits],
    }


def render_result(r: SearchResult) -> str:
    """A few lines per story: when, feed and title, the terms, one marked snippet per field."""
    when = (r.published_at or r.first_seen_at).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"{when}  [{r.feed}]  {r.title}",
        f"    terms: {', '.join(r.terms)}  (score {r.score:g})",
    ]
    shown: set[str] = set()
    for hit in r.hits:
        if hit.field not in shown:
            shown.add(hit.field)
            lines.append(f"    {hit.field}: {hit.marked()}")
    if r.url:
        lines.append(f"    {r.url}")
    return "\n".join(lines)
