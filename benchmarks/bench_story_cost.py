"""Benchmark: CPU per new story through the feed-to-story stage, extraction off (issue 18).

    PYTHONPATH=. python benchmarks/bench_story_cost.py [--runs 5] [--feeds 100]

Each stage as the daemon runs it, in one process and thread, on CPU time (process_time):
  parse    parse_feed on the feed's bytes (a feed's cost shared over its items)
  keys     the event loop's identity of each item (what "seen before?" asks the store)
  prepare  prepare_stories: identity, language, search text, near-duplicate fingerprint and
           matching against 100 rules of 1,000 terms (bench_rules' realistic rules)
  store    save_polls into a fresh SQLite database, 100 polls a transaction, with the search
           index and the near-duplicate band rows
Three sets of items:
  short    bench_polling's feeds: 20 items a feed, an 8-word title and a 40-word description
  corpus   every feed of ../shared/corpus/feeds as published (summaries, some full content)
  article  the text of each corpus page (trafilatura, once, outside the timing) as an RSS
           item's full content, 10 items a feed: a full-text feed's corpus-sized stories
Printed: milliseconds of CPU per story for each stage and in all, the median of --runs runs
(each run on a fresh database, so nothing is clustered against the previous run's stories).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_polling  # noqa: E402
import bench_rules  # noqa: E402

from watcher.config import FeedConfig  # noqa: E402
from watcher.errors import ParseError  # noqa: E402
from watcher.ingest.parse import Entry, ParsedFeed, parse_feed  # noqa: E402
from watcher.ingest.prepare import FeedRef, Prepared, prepare_stories  # noqa: E402
from watcher.pipeline import stories as pipeline_stories  # noqa: E402
from watcher.rules import RuleSet  # noqa: E402
from watcher.store import Store, sync_feeds  # noqa: E402
from watcher.store.feeds import FeedUpdate  # noqa: E402
from watcher.store.stories import PollToSave, StoryToSave, save_polls  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
POLLS_PER_TRANSACTION = 100
T = TypeVar("T")


def short_feeds(n: int) -> list[bytes]:
    return [bench_polling.feed_body(i) for i in range(n)]


def corpus_feeds() -> list[bytes]:
    return [p.read_bytes() for p in sorted((CORPUS / "feeds").glob("*"))]


def article_feeds(articles: Sequence[str]) -> list[bytes]:
    feeds = []
    for start in range(0, len(articles), 10):
        items = []
        for j, text in enumerate(articles[start : start + 10]):
            title, _, body = text.partition("\n")
            items.append(
                f"<item><title>{escape(title[:200])}</title>"
                f"<link>https://news.example.org/{start + j}</link>"
                f"<description>{escape(body[:300])}</description>"
                f"<content:encoded>{escape(body)}</content:encoded></item>"
            )
        feeds.append(
            (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
                f"<title>Articles {start}</title>{''.join(items)}</channel></rss>"
            ).encode()
        )
    return feeds


def rules_at_1000_terms(articles: Sequence[str]) -> RuleSet:
    rng = random.Random(1000)
    names, pairs = bench_rules.corpus_names(articles)
    specs, lists = bench_rules.realistic_rules(
        bench_rules.realistic_terms(1000, names, pairs, rng), rng
    )
    return RuleSet.compile(specs, lists)


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t = time.process_time()
    out = fn()
    return out, time.process_time() - t


def one_run(feeds: Sequence[bytes], rules: RuleSet) -> tuple[int, dict[str, float]]:
    names = [f"f{i}" for i in range(len(feeds))]
    urls = [f"https://feeds.example.org/{i}" for i in range(len(feeds))]

    def parse_all() -> list[tuple[str, ParsedFeed]]:
        out = []
        for name, url, body in zip(names, urls, feeds, strict=True):
            with contextlib.suppress(ParseError):
                out.append((name, parse_feed(body, url, NOW)))
        return out

    parsed, t_parse = timed(parse_all)
    feed_configs = {n: FeedConfig(name=n, url=u) for n, u in zip(names, urls, strict=True)}

    def keys_all() -> list[tuple[str, list[Entry]]]:
        """As new_entries on an empty database: the first item of each identity is new."""
        out = []
        for name, p in parsed:
            seen: set[str | None] = {None}
            fresh = []
            for keyed in map(partial(pipeline_stories._entry_keys, feed_configs[name]), p.entries):
                if keyed is not None and not seen.intersection(keyed[1:]):
                    seen.update(keyed[1:])
                    fresh.append(keyed[0])
            out.append((name, fresh))
        return out

    keyed, t_keys = timed(keys_all)

    def prepare_all() -> list[tuple[str, list[StoryToSave]]]:
        out = []
        for name, entries in keyed:
            items = [(e, e.content or e.summary, "feed") for e in entries]
            prepared = prepare_stories(rules, FeedRef(name), items, NOW)
            out.append(
                (
                    name,
                    [
                        StoryToSave(story=p.story, matches=p.matches, fingerprint=p.fingerprint)
                        for p in prepared
                        if isinstance(p, Prepared)
                    ],
                )
            )
        return out

    ready, t_prepare = timed(prepare_all)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        store.create_schema()
        sync_feeds(store, list(feed_configs.values()), NOW, 300)
        update = FeedUpdate(polled_at=NOW, next_poll_at=NOW, status=200, error=None)
        polls = [PollToSave(name, update, items) for name, items in ready]

        def store_all() -> list[Any]:
            errors = []
            for start in range(0, len(polls), POLLS_PER_TRANSACTION):
                errors += save_polls(store, polls[start : start + POLLS_PER_TRANSACTION])
            return [e for e in errors if e is not None]

        errors, t_store = timed(store_all)
        store.close()
    if errors:
        sys.exit(f"store failed: {errors[0]}")
    stories = sum(len(items) for _, items in ready)
    return stories, {"parse": t_parse, "keys": t_keys, "prepare": t_prepare, "store": t_store}


def report(label: str, feeds: Sequence[bytes], rules: RuleSet, runs: int) -> None:
    results = [one_run(feeds, rules) for _ in range(runs)]
    stories = results[0][0]
    stages = ["parse", "keys", "prepare", "store"]
    per = {s: statistics.median(r[s] for _, r in results) * 1000 / stories for s in stages}
    total = statistics.median(sum(r.values()) for _, r in results) * 1000 / stories
    cells = " ".join(f"{per[s]:>8.3f}" for s in stages)
    print(f"{label:<8} {len(feeds):>5} {stories:>7} {cells} {total:>8.3f}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--feeds", type=int, default=100, help="short feeds of 20 items")
    parser.add_argument("--only", choices=["short", "corpus", "article"], action="append")
    args = parser.parse_args(argv)
    logging.getLogger("watcher").setLevel(logging.ERROR)
    articles = bench_rules.load_articles(CORPUS)
    if not articles:
        sys.exit(f"no corpus pages at {CORPUS / 'pages'}")
    rules = rules_at_1000_terms(articles)
    sets = {
        "short": short_feeds(args.feeds),
        "corpus": corpus_feeds(),
        "article": article_feeds(articles),
    }
    print(f"ms of CPU per new story, median of {args.runs} runs; 100 rules, 1,000 terms")
    print(f"{'items':<8} {'feeds':>5} {'stories':>7} {'parse':>8} {'keys':>8} {'prepare':>8} "
          f"{'store':>8} {'total':>8}")  # fmt: skip
    for label, feeds in sets.items():
        if not args.only or label in args.only:
            report(label, feeds, rules, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
