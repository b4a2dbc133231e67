"""Steady state: every feed polled every cycle after the first, nothing new (304s), then 5% of
the feeds changing per cycle, then validators gone (every feed answers 200 with the body the
daemon already has). CPU per 304, per unchanged 200, per changed feed, beside what a cycle of
the naive loop and rss2email's next run cost per feed."""

from __future__ import annotations

import argparse
import random

from benchmarks import baselines
from benchmarks.cold import marked_share
from benchmarks.daemon import DaemonSpec, wait_for
from benchmarks.farm import FarmSpec
from benchmarks.report import Table
from benchmarks.session import Session, mb

COLUMNS = [
    "phase",
    "polls",
    "304",
    "unchanged 200",
    "changed 200",
    "new stories",
    "marked",
    "marked alerted",
    "CPU s",
    "of which daemon process",
    "CPU ms/poll",
    "CPU ms/changed feed",
    "seen->alert p50/95/99 s",
    "published->alert p50/95/99 s",
    "PSS MB",
    "RSS MB",
    "DB MB",
]
CHANGING = 0.05
CYCLES = 2


def run(args: argparse.Namespace) -> list[Table]:
    n = args.steady_feeds
    farm = FarmSpec(
        n,
        args.hosts,
        args.items,
        args.latency,
        templated=args.templated,
        match_every=args.match_every,
    )
    daemon = DaemonSpec(
        interval=f"{args.steady_cycle:g}s", terms=args.terms, concurrency=args.concurrency
    )
    t = Table(
        f"steady state: {n} feeds x {args.items} items, polled every {args.steady_cycle:g} s "
        f"(pinned, +-10% jitter), {args.latency * 1000:g} ms latency, {args.terms} rule terms, "
        f"{CHANGING:.0%} of feeds changing per cycle, {marked_share(args)}",
        COLUMNS,
    )
    s = Session(farm, daemon)
    rng = random.Random(18)
    try:
        s.first_answer()
        if not s.settle(n * args.items, args.timeout):
            t.notes.append("the first cycle did not settle before --timeout")
        per_304 = 0.0
        per_poll: dict[str, float] = {}

        def window(label: str, key: str, publish: bool) -> None:
            nonlocal per_304
            c0, s0 = s.farm.counts(), s.daemon.sample()
            before = set(s.published)
            for _ in range(CYCLES if publish else 1):
                if publish:
                    s.publish(rng.sample(range(n), max(1, round(n * CHANGING))))
                target = _polled(s.farm.counts()) + n
                wait_for(lambda t=target: _polled(s.farm.counts()) >= t, args.timeout)
            new = set(s.published) - before
            if publish:
                s.settle(len(s.published), args.timeout)
            c1, s1 = s.farm.counts(), s.daemon.sample()
            d = {k: int(c1[k] - c0[k]) for k in _POLLS}
            polls = sum(d.values())
            cpu = s1.cpu - s0.cpu
            changed = d["feed_200_new"]
            if key == "feed_304":
                per_304 = cpu / max(1, polls)
            per_poll[key] = cpu / max(1, polls)
            own = (cpu - per_304 * (polls - changed)) / changed if changed else None
            lat = s.latency(new).cells() if new else ["-", "-"]
            marked = new & s.marked()
            alerted = set(s.alerted())
            t.add(
                label,
                polls,
                d["feed_304"],
                d["feed_200_same"],
                changed,
                len(new),
                len(marked),
                len(marked & alerted),
                cpu,
                s1.own_cpu - s0.own_cpu,
                1000 * cpu / max(1, polls),
                None if own is None else 1000 * own,
                *lat,
                mb(s1.pss_kb),
                mb(s1.rss_kb),
                s.daemon.db_bytes() / 2**20,
            )

        # one unmeasured cycle first: the first cycle's after-work (deliveries' bookkeeping,
        # checkpoints, workers settling) would otherwise be charged to the 304s
        target = _polled(s.farm.counts()) + n
        wait_for(lambda: _polled(s.farm.counts()) >= target, args.timeout)
        window("nothing new: 304s", "feed_304", publish=False)
        window(f"{CHANGING:.0%} changing, {CYCLES} cycles", "", publish=True)
        s.farm.set_validators(False)
        window("no validators: unchanged 200s", "feed_200_same", publish=False)
        s.daemon.stop()
        s.farm.set_validators(True)  # rss2email's second run may answer 304s from its ETags
        sample = [s.farm.url(i) for i in range(min(args.naive, n))]
        naive = baselines.naive(sample)
        t.notes.append(
            f"watcher / naive loop, CPU per poll: unchanged 200 "
            f"{per_poll['feed_200_same'] / (naive.cpu / naive.sample):.2f}, 304 "
            f"{per_poll['feed_304'] / (naive.cpu / naive.sample):.2f} (the loop parses every feed "
            "every cycle)"
        )
        t.add(
            f"naive loop, one cycle ({naive.sample} feeds)",
            naive.sample,
            "-",
            "-",
            naive.sample,
            "-",
            "-",
            "-",
            naive.cpu,
            "-",
            1000 * naive.cpu / naive.sample,
        )
        r2e = baselines.rss2email(sample, runs=2) if not args.no_rss2email else "skipped"
        if isinstance(r2e, str):
            t.notes.append(f"rss2email: {r2e}")
        else:
            b = r2e[1]
            t.add(
                f"rss2email next run ({b.sample} feeds, its ETags)",
                b.sample,
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                b.cpu,
                "-",
                1000 * b.cpu / b.sample,
            )
            t.notes.append(
                f"rss2email: {b.extra}; watcher / rss2email next run, CPU per poll: 304 "
                f"{per_poll['feed_304'] / (b.cpu / b.sample):.2f}"
            )
        t.notes.append(
            "CPU: the daemon's process tree over each window (idle time between polls included), "
            "after one unmeasured cycle of 304s; "
            "CPU per changed feed: the window's CPU less its other polls at the 304 rate, per "
            "changed feed (one new story each); the baselines poll the farm after the daemon, "
            "validators on again: the naive loop one cycle, rss2email two runs (the second "
            "shown), per feed"
        )
    finally:
        s.close()
    return [t]


_POLLS = ("feed_200_new", "feed_200_same", "feed_304")


def _polled(counts: dict[str, float]) -> float:
    return sum(counts[k] for k in _POLLS)
