"""Cold start: the daemon's first cycle over a fresh farm (every feed new, every item a new
story), beside the naive loop and rss2email on the same farm."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

from benchmarks import baselines
from benchmarks.daemon import DaemonSpec
from benchmarks.farm import FarmSpec
from benchmarks.report import Table
from benchmarks.session import Session, mb

COLUMNS = [
    "who",
    "feeds",
    "stories",
    "clusters",
    "marked",
    "alerts",
    "marked alerted",
    "wall s",
    "start-up s",
    "CPU s",
    "of which daemon process",
    "start-up CPU s",
    "CPU ms/poll",
    "CPU ms/story",
    "stories/s",
    "seen->alert p50/95/99 s",
    "published->alert p50/95/99 s",
    "PSS MB",
    "RSS MB",
    "DB MB",
]


@dataclass
class Cold:
    """The figures of one first cycle, kept for the scenarios built on it."""

    session: Session
    feeds: int
    stories: int
    wall: float
    startup: float
    cpu: float
    startup_cpu: float
    own_cpu: float
    complete: bool


def first_cycle(args: argparse.Namespace, feeds: int, terms: int, **farm: object) -> Cold:
    spec = FarmSpec(
        feeds,
        args.hosts,
        args.items,
        args.latency,
        templated=args.templated,
        match_every=args.match_every,
    )
    spec = FarmSpec(**{**spec.__dict__, **farm})  # type: ignore[arg-type]
    s = Session(
        spec,
        DaemonSpec(
            interval=args.interval,
            terms=terms,
            concurrency=args.concurrency,
            alerts=not args.no_alerts,
        ),
    )
    t0 = s.daemon.started
    first = s.first_answer()
    startup_cpu = s.daemon.sample().cpu
    stories = spec.feeds * spec.items
    complete = s.settle(stories, args.timeout)
    done = s.daemon.sample()
    alerts = s.alerted()
    end = max([a for a, _ in alerts.values()] + [first, s.complete_at or time.time()])
    return Cold(
        s, feeds, stories, end - t0, first - t0, done.cpu, startup_cpu, done.own_cpu, complete
    )


def marked_share(args: argparse.Namespace) -> str:
    return (
        "every story alerting"
        if args.match_every == 1
        else f"1 story in {args.match_every} alerting"
    )


def watcher_row(t: Table, c: Cold) -> None:
    s = c.session
    work = c.cpu - c.startup_cpu
    lat = s.latency()
    t.add(
        "watcher" + ("" if c.complete else " (TIMED OUT)"),
        c.feeds,
        s.daemon.stories(),
        s.daemon.clusters(),
        len(s.marked()),
        s.alerts(),
        s.marked_alerted(),
        c.wall,
        c.startup,
        c.cpu,
        c.own_cpu,
        c.startup_cpu,
        1000 * work / c.feeds,
        1000 * work / max(1, c.stories),
        c.stories / max(1e-9, c.wall - c.startup),
        *lat.cells(),
        mb(s.daemon.sampler.peak_pss_kb),
        mb(s.daemon.sampler.peak_rss_kb),
        s.daemon.db_bytes() / 2**20,
    )


def compare(t: Table, c: Cold, args: argparse.Namespace) -> None:
    """The baselines over a sample of the same feeds, and watcher's ratios against them."""
    sample = [c.session.farm.url(i) for i in range(min(args.naive, c.feeds))]
    runs: list[baselines.Baseline] = [baselines.naive(sample)]
    r2e = baselines.rss2email(sample) if not args.no_rss2email else "skipped (--no-rss2email)"
    if isinstance(r2e, str):
        t.notes.append(f"rss2email: {r2e}")
    else:
        runs += r2e
    for b in runs:
        wall, cpu = b.scaled(c.feeds)
        t.add(
            f"{b.name}, {b.sample} feeds x{c.feeds / b.sample:g}",
            c.feeds,
            b.entries * c.feeds // b.sample,
            "-",
            "-",
            "-",
            "-",
            wall,
            "-",
            cpu,
            "-",
            "-",
            1000 * cpu / c.feeds,
            1000 * cpu / max(1, c.stories),
        )
        t.notes.append(
            f"watcher / {b.name}: wall {c.wall / wall:.2f} (start-up excluded "
            f"{(c.wall - c.startup) / wall:.2f}; issue 18's goal is <= 0.1), CPU "
            f"{c.cpu / max(1e-9, cpu):.1f}; {b.name} measured over {b.sample} feeds, "
            f"extrapolated linearly (sequential){'; ' + b.extra if b.extra else ''}"
        )


def run(args: argparse.Namespace) -> list[Table]:
    tables = []
    for feeds in args.feeds:
        mode = "templated" if args.templated else "distinct"
        t = Table(
            f"cold start: {feeds} feeds x {args.items} items ({mode} texts), "
            f"{args.latency * 1000:g} ms latency, {args.terms} rule terms, "
            f"{marked_share(args)}, extraction off",
            COLUMNS,
        )
        t.notes.append(f"load average (1 min) at this table's start: {os.getloadavg()[0]:.1f}")
        c = first_cycle(args, feeds, args.terms)
        try:
            watcher_row(t, c)
            c.session.daemon.stop()
            compare(t, c, args)
        finally:
            c.session.close()
        t.notes.append(
            "wall: daemon launch -> last alert received (or the last story stored); start-up: "
            "launch -> first request; CPU: the daemon's process tree (workers, fork server "
            "included), CPU per poll and per story (every story, marked or not) after start-up; "
            "marked: stories carrying the alerting rule's word, each owed one alert; alerts: "
            "received, duplicates included"
        )
        tables.append(t)
    return tables
