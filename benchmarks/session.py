"""One measured run: a farm, the receiver, the daemon on them, and the figures every scenario
reads off them (what was stored and alerted, detection latencies, CPU and memory)."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass

from benchmarks.daemon import Daemon, DaemonSpec, wait_for
from benchmarks.farm import Farm, FarmSpec, Published
from benchmarks.procs import Sample
from benchmarks.receiver import Receiver
from benchmarks.report import percentile

_SID = re.compile(r"/page/(\d+)")


@dataclass(frozen=True)
class Latency:
    """Seconds from an event to the alert's arrival, per story alerted."""

    seen: list[float]  # the poll that first saw the story (its first_seen_at) -> alert
    published: list[float]  # the farm started listing it -> alert

    def cells(self) -> list[str]:
        return [_ppp(self.seen), _ppp(self.published)]


def _ppp(values: list[float]) -> str:
    if not values:
        return "-"
    p = [percentile(values, q) or 0.0 for q in (50, 95, 99)]
    return "/".join(f"{v:.2f}" for v in p)


class Session:
    def __init__(self, farm_spec: FarmSpec, daemon_spec: DaemonSpec) -> None:
        self.farm = Farm(farm_spec)
        self.receiver = Receiver()
        self.published: dict[int, Published] = {p.sid: p for p in self.farm.initial()}
        self.daemon = Daemon(self.farm, daemon_spec, self.receiver.url)
        self.alerting = daemon_spec.alerts
        self.complete_at: float | None = None  # when settle() first saw every story complete

    def close(self) -> Sample | None:
        """Stop the daemon and the farm, and remove the daemon's folder (database, config,
        log) unless WATCHER_BENCH_KEEP is set, to read its log after the run."""
        last = None
        try:
            if self.daemon.proc.poll() is None:
                last = self.daemon.stop()
        finally:
            self.farm.close()
            if not os.environ.get("WATCHER_BENCH_KEEP"):
                shutil.rmtree(self.daemon.folder, ignore_errors=True)
        return last

    def publish(self, feeds: list[int], per_feed: int = 1, body_only_every: int = 0) -> None:
        for p in self.farm.publish(feeds, per_feed, body_only_every):
            self.published[p.sid] = p

    def marked(self) -> set[int]:
        """The stories that carry the alerting rule's marker: each is owed one alert."""
        return {sid for sid, p in self.published.items() if p.marked}

    def alerts(self) -> int:
        """Alerts received, duplicates included (one per marked story is the contract)."""
        return len(self.receiver.arrivals)

    def marked_alerted(self) -> int:
        marked = self.marked()
        return sum(1 for sid in self.alerted() if sid in marked)

    def alerted(self) -> dict[int, tuple[float, str]]:
        """Story id -> (first alert's arrival, the fields its hits were in)."""
        out: dict[int, tuple[float, str]] = {}
        for a in list(self.receiver.arrivals):
            sid = story_id(a.title)
            if sid is not None and sid not in out:
                out[sid] = (a.at, a.body)
        return out

    def settle(self, stories: int, timeout: float) -> bool:
        """Wait until `stories` are stored with their article pages read, no delivery is
        pending and every story cluster the alerting rule matched has its alert (one per
        cluster is the contract); False on timeout. Notes in `complete_at` when it first saw the
        stories stored and their pages read (to 0.5 s), which ends a cycle whose last story
        alerts nobody."""
        self.complete_at = None

        def done() -> bool:
            self.daemon.sample()  # raises if the daemon died
            if self.daemon.stories() < stories or self.daemon.pages_pending():
                return False
            self.complete_at = self.complete_at or time.time()
            if self.daemon.pending():
                return False
            return not self.alerting or len(self.alerted()) >= self.daemon.clusters(matched=True)

        return wait_for(done, timeout, every=0.5)

    def latency(self, sids: set[int] | None = None) -> Latency:
        seen_at = {
            sid: t for u, t in self.daemon.first_seen().items() if (sid := story_id(u)) is not None
        }
        seen, published = [], []
        for sid, (at, _) in self.alerted().items():
            if sids is not None and sid not in sids:
                continue
            if sid in seen_at:
                seen.append(at - seen_at[sid])
            if sid in self.published:
                published.append(at - self.published[sid].at)
        return Latency(seen, published)

    def first_answer(self, timeout: float = 120) -> float:
        """When the farm answered its first request (the daemon's start-up ends about then)."""
        wait_for(lambda: "first_answer_at" in self.farm.counts(), timeout, every=0.05)
        return float(self.farm.counts().get("first_answer_at", time.time()))


def story_id(link: str) -> int | None:
    """The farm's story id in a story's link (an alert's title is the link)."""
    m = _SID.search(link)
    return int(m.group(1)) if m else None


def mb(kb: int) -> float:
    return kb / 1024
