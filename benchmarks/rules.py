"""Rules: the same first cycle with 10, 1,000 and 10,000 rule terms, to show what the rule set
costs at start-up (compiled in the daemon and in each worker) and per story."""

from __future__ import annotations

import argparse

from benchmarks.cold import first_cycle, marked_share
from benchmarks.report import Table
from benchmarks.session import mb

COLUMNS = [
    "terms",
    "rules",
    "feeds",
    "stories",
    "marked",
    "alerts",
    "marked alerted",
    "matches stored",
    "start-up s",
    "start-up CPU s",
    "CPU s",
    "of which daemon process",
    "CPU ms/story",
    "seen->alert p50/95/99 s",
    "PSS MB",
    "RSS MB",
]


def run(args: argparse.Namespace) -> list[Table]:
    t = Table(
        f"rules: first cycle of {args.rules_feeds} feeds x {args.items} items, "
        f"{args.latency * 1000:g} ms latency, extraction off; one alerting rule "
        f"({marked_share(args)}) plus rules of ten corpus words that store matches without "
        "alerting",
        COLUMNS,
    )
    for terms in args.rule_terms:
        c = first_cycle(args, args.rules_feeds, terms)
        try:
            d = c.session.daemon
            t.add(
                terms,
                1 + (terms + 8) // 10,
                c.feeds,
                d.stories(),
                len(c.session.marked()),
                c.session.alerts(),
                c.session.marked_alerted(),
                d.count("matches"),
                c.startup,
                c.startup_cpu,
                c.cpu,
                c.own_cpu,
                1000 * (c.cpu - c.startup_cpu) / max(1, c.stories),
                c.session.latency().cells()[0],
                mb(d.sampler.peak_pss_kb),
                mb(d.sampler.peak_rss_kb),
            )
            if not c.complete:
                t.notes.append(f"{terms} terms: did not settle before --timeout")
            if terms == args.rule_terms[0]:
                t.notes.append(
                    "marked: stories carrying the alerting rule's word, each owed one alert; "
                    "alerts: received, duplicates included; CPU per story: over every story, "
                    "marked or not, start-up excluded"
                )
        finally:
            c.session.close()
    return [t]
