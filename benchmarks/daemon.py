"""The real daemon, `python -m watcher run`, as a subprocess on a generated config pointing at
the farm, with SQLite in a temporary folder; read from outside only: /proc for its process
tree, its database (read-only) for what it stored, the receiver for what it sent."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import texts
from benchmarks.farm import Farm
from benchmarks.procs import Sample, TreeSampler

ROOT = Path(__file__).resolve().parent.parent
ALERT_TITLE = "{{ story.url }}"
ALERT_BODY = "{% for r in rules %}{% for h in r.hits %}{{ h.field }} {% endfor %}{% endfor %}"
"""The alert names the story (its link carries the farm's story id) and the fields its hits
were found in, so the harness can tell title/summary matches from body-only ones."""


def _memtrace() -> list[str]:
    """BENCH_MEMTRACE="--after 60 --out FILE ..." runs the daemon under benchmarks/memtrace.py
    with those options, to see where its heap goes in a scenario."""
    opts = os.environ.get("BENCH_MEMTRACE")
    if not opts:
        return ["-m", "watcher"]
    return [str(Path(__file__).with_name("memtrace.py")), *opts.split(), "--"]


@dataclass(frozen=True)
class DaemonSpec:
    interval: str = "1h"  # each feed's pinned interval
    extract: bool = False
    terms: int = 1000  # rule terms in all
    concurrency: int = 100
    per_host: int = 2
    workers: str = "auto"
    alerts: bool = True  # False: the marker rule stores its matches and sends nothing


def rules_yaml(terms: int, alerts: bool = True) -> str:
    """One notifying rule on the marker, plus `terms - 1` corpus words in rules of ten that
    store matches without alerting (a desk's many watch lists); words from the 100 commonest on
    are left out, as nobody watches "after" or "which"."""
    words = texts.vocabulary()[100 : 100 + max(0, terms - 1)]
    if len(words) < terms - 1:
        raise SystemExit(f"the corpus gives {len(words) + 1} distinct terms, not {terms}")
    notify = ", notify: [hook]" if alerts else ""
    lines = [f"  - {{name: bench, any: [{texts.MARKER}]{notify}}}"]
    for n in range(0, len(words), 10):
        quoted = ", ".join(json.dumps(w) for w in words[n : n + 10])  # "no", "false" stay text
        lines.append(f"  - {{name: watch-{n // 10}, any: [{quoted}]}}")
    return "\n".join(lines)


def config_yaml(farm: Farm, spec: DaemonSpec, folder: Path, hook: str) -> str:
    feeds = "\n".join(
        f'  - {{name: f{i}, url: "{farm.url(i)}", extract: {str(spec.extract).lower()}, '
        f"interval: {spec.interval}}}"
        for i in range(farm.spec.feeds)
    )
    return f"""database: "sqlite:///{folder / "watcher.db"}"
http: {{enabled: true, listen: "127.0.0.1:0"}}
polling:
  allow_private_addresses: true
  concurrency: {spec.concurrency}
  per_host: {spec.per_host}
  min_interval: 1s
  workers: {spec.workers}
feeds:
{feeds}
notifiers:
  hook:
    urls: ["{hook}"]
    template: {{title: "{ALERT_TITLE}", body: "{ALERT_BODY}"}}
rules:
{rules_yaml(spec.terms, spec.alerts)}
"""


class Daemon:
    """One `watcher run` and what can be read of it from outside."""

    def __init__(self, farm: Farm, spec: DaemonSpec, hook: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
        self.db = self.folder / "watcher.db"
        cfg = self.folder / "watcher.yaml"
        cfg.write_text(config_yaml(farm, spec, self.folder, hook), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
        env["PYTHONPATH"] = str(ROOT)
        self.log = self.folder / "daemon.log"
        self.started = time.time()
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *_memtrace(), "run", "-c", str(cfg)],
                cwd=self.folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.sampler = TreeSampler(self.proc.pid)

    def sample(self) -> Sample:
        if self.proc.poll() is not None:
            raise SystemExit(f"the daemon exited ({self.proc.returncode}); see {self.log}")
        return self.sampler.now()

    def query(self, sql: str) -> list[tuple[object, ...]]:
        if not self.db.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as c:
            c.execute("PRAGMA busy_timeout = 5000")
            try:
                return c.execute(sql).fetchall()
            except sqlite3.OperationalError:  # schema not created yet
                return []

    def stories(self) -> int:
        rows = self.query("SELECT count(*) FROM stories")
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def clusters(self, matched: bool = False) -> int:
        """Story clusters; with matched=True only those the alerting rule matched, each of
        which owes the receiver one alert."""
        sql = "SELECT count(DISTINCT coalesce(cluster_id, id)) FROM stories"
        if matched:
            sql += " WHERE id IN (SELECT story_id FROM matches WHERE rule = 'bench')"
        rows = self.query(sql)
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def count(self, table: str) -> int:
        rows = self.query(f"SELECT count(*) FROM {table}")
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def pages_pending(self) -> int:
        """Stories stored on their feed's text whose article page is still to be read (a
        body-only match can only come after it)."""
        rows = self.query("SELECT count(*) FROM stories WHERE body_source = 'pending'")
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def pending(self) -> int:
        rows = self.query("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'held')")
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def first_seen(self) -> dict[str, float]:
        """Story link -> when the poll that first saw it ran (UTC, as stored)."""
        out = {}
        for url, seen in self.query("SELECT url, first_seen_at FROM stories"):
            when = datetime.fromisoformat(str(seen))
            out[str(url)] = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
        return out

    def db_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("watcher.db*"))

    def stop(self) -> Sample:
        """The last sample, taken before SIGTERM; then the daemon is stopped."""
        last = self.sample()
        self.sampler.stop()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return last


def wait_for(cond: Callable[[], bool], timeout: float, every: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(every)
    return cond()
