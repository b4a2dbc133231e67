"""`watcher search`: stored stories found with the rule language, best first."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC
from typing import TYPE_CHECKING, Any

from watcher.cli.common import EXIT_OK, iso, load, open_store, print_json, since, usage_error

if TYPE_CHECKING:
    from watcher.errors import RuleError
    from watcher.rules.fulltext import SearchResult


def cmd_search(args: argparse.Namespace) -> int:
    from watcher.errors import RuleError
    from watcher.rules.fulltext import compile_search
    from watcher.store.search import search

    config = load(args)
    try:
        query = compile_search(args.query, config.term_lists)
    except RuleError as exc:
        return usage_error(query_error(args.query, exc))
    if args.limit < 1:
        return usage_error("--limit: must be at least 1")
    with open_store(config) as store:
        results = search(
            store, query, since=since(args.since), feeds=args.feed or (), limit=args.limit
        )
    for r in results:
        if args.json:
            print_json(result_json(r))
        else:
            print(render_result(r))
    if not results and not args.json:
        print("no stories found", file=sys.stderr)
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
