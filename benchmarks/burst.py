"""News burst: feeds that were quiet suddenly list 2,000 new stories at once, each with its
article page, extraction on; one story in `--match-every` names the rule's term, half of those
in their summary, half only in the article page, and the rest nowhere. Both detection latencies
for each half, and the burst's pace."""

from __future__ import annotations

import argparse
import time

from benchmarks.cold import marked_share
from benchmarks.daemon import DaemonSpec, wait_for
from benchmarks.farm import FarmSpec
from benchmarks.report import Table
from benchmarks.session import Session, mb, story_id

COLUMNS = [
    "stories",
    "count",
    "alerts",
    "alerted",
    "alert fields",
    "seen->alert p50/95/99 s",
    "published->alert p50/95/99 s",
    "last alert after s",
    "stories/s",
    "CPU s",
    "of which daemon process",
    "CPU ms/story",
    "pages fetched",
    "PSS MB",
    "RSS MB",
]


def run(args: argparse.Namespace) -> list[Table]:
    n = args.burst_feeds
    per_feed = max(1, args.burst // n)
    t = Table(
        f"news burst: {per_feed * n} stories over {n} feeds at once, article pages, "
        f"extraction on, {args.latency * 1000:g} ms latency, {args.terms} rule terms, "
        f"{marked_share(args)}, feeds polled every 10 s",
        COLUMNS,
    )
    farm = FarmSpec(
        n,
        args.hosts,
        0,
        args.latency,
        templated=args.templated,
        window=max(20, per_feed),
        match_every=args.match_every,
        pages=True,
    )
    s = Session(
        farm,
        DaemonSpec(interval="10s", extract=True, terms=args.terms, concurrency=args.concurrency),
    )
    try:
        wait_for(lambda: s.farm.counts().get("feeds_answered", 0) >= n, args.timeout)
        time.sleep(2)
        s0 = s.daemon.sample()
        s.publish(list(range(n)), per_feed, body_only_every=2)
        start = time.time()
        complete = s.settle(len(s.published), args.timeout)
        s1 = s.daemon.sample()
        alerted = s.alerted()
        cpu = s1.cpu - s0.cpu
        total = len(s.published)
        stored = (s.complete_at or time.time()) - start  # stored, pages read
        arrivals = [a.title for a in s.receiver.arrivals]
        published = s.published.items()
        groups = {
            "all": set(s.published),
            "marker in summary": {i for i, p in published if p.marked and not p.body_only},
            "marker only in the page": {i for i, p in published if p.body_only},
            "no marker": {i for i, p in published if not p.marked},
        }
        for label, sids in groups.items():
            got = {i: alerted[i] for i in sids if i in alerted}
            fields = sorted({f for _, body in got.values() for f in body.split()})
            last = max((a for a, _ in got.values()), default=start) - start
            lat = s.latency(sids).cells()
            t.add(
                label,
                len(sids),
                sum(1 for title in arrivals if story_id(title) in sids),
                len(got),
                " ".join(fields) or "-",
                *lat,
                last if got else None,
                (total / stored if stored > 0 else None)
                if label == "all"
                else (len(got) / last if last > 0 else None),
                cpu if label == "all" else "",
                s1.own_cpu - s0.own_cpu if label == "all" else "",
                1000 * cpu / total if label == "all" else "",
                int(s.farm.counts()["page"]) if label == "all" else "",
                mb(s.daemon.sampler.peak_pss_kb) if label == "all" else "",
                mb(s.daemon.sampler.peak_rss_kb) if label == "all" else "",
            )
        if not complete:
            t.notes.append("the burst did not settle before --timeout")
        t.notes.append(
            "alerts: received for the row's stories, duplicates included; alerted: stories with "
            "an alert; alert fields: where the alerting rule's hits were, as the alerts say; "
            "published: the farm started listing the story; stories/s: all stories stored with "
            "their pages read (row all, to 0.5 s) or the row's alerts, per second since the "
            "publish; CPU: the daemon's process tree from the publish to the burst settled, "
            "per story of all"
        )
    finally:
        s.close()
    return [t]
