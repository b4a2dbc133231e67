"""Idle: after the first cycle, no feed is due for an hour; what the daemon costs meanwhile."""

from __future__ import annotations

import argparse
import os
import time

from benchmarks.cold import first_cycle
from benchmarks.report import Table
from benchmarks.session import mb

COLUMNS = [
    "feeds",
    "stored stories",
    "seconds",
    "CPU s",
    "% of a core",
    "processes",
    "PSS MB",
    "RSS MB",
]


def run(args: argparse.Namespace) -> list[Table]:
    tables = []
    for feeds in args.feeds:
        t = Table(
            f"idle: {feeds} feeds not due (interval {args.interval}), {args.terms} rule terms",
            COLUMNS,
        )
        t.notes.append(f"load average (1 min) at this table's start: {os.getloadavg()[0]:.1f}")
        c = first_cycle(args, feeds, args.terms)
        try:
            time.sleep(5)  # the last alert's bookkeeping
            s0 = c.session.daemon.sample()
            time.sleep(args.idle_seconds)
            s1 = c.session.daemon.sample()
            cpu = s1.cpu - s0.cpu
            t.add(
                feeds,
                c.session.daemon.stories(),
                s1.at - s0.at,
                cpu,
                100 * cpu / (s1.at - s0.at),
                s1.processes,
                mb(s1.pss_kb),
                mb(s1.rss_kb),
            )
            if not c.complete:
                t.notes.append("the first cycle did not settle before --timeout")
        finally:
            c.session.close()
        tables.append(t)
    return tables
