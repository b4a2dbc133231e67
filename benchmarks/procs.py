"""A process and its descendants, read from /proc: the daemon is measured from outside, so its
workers, fork server and resource tracker count as much as its own process."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 onwards), or None when gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def family(pid: int) -> dict[int, str]:
    """Living descendants of pid, with their start times (a reused pid is another process)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (f := stat_fields(int(entry))) is not None:
            children.setdefault(int(f[1]), []).append(int(entry))
            starts[int(entry)] = f[19]
    out: dict[int, str] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out[child] = starts[child]
        todo.extend(children.get(child, []))
    return out


def alive(pid: int, started: str) -> bool:
    f = stat_fields(pid)
    return f is not None and f[0] != "Z" and f[19] == started


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and of the children each has reaped (a recycled
    worker's CPU lands in its parent's cutime/cstime, so nothing that ran is lost)."""
    total = 0
    for pid in pids:
        f = stat_fields(pid)
        if f is not None:
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / TICK


def memory_kb(pids: list[int]) -> tuple[int, int]:
    """(PSS, RSS) in KB summed over these processes, from smaps_rollup: PSS shares pages that
    forked workers have in common, so the sum is what the tree really costs; RSS counts them
    once per process."""
    pss = rss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                pss += int(line.split()[1])
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
    return pss, rss


def tree(pid: int) -> list[int]:
    return [pid, *family(pid)]


@dataclass
class Sample:
    at: float  # time.time()
    cpu: float
    own_cpu: float  # the root process alone (the daemon's event loop, HTTP, database)
    pss_kb: int
    rss_kb: int
    processes: int


class TreeSampler:
    """Samples a process tree's CPU and memory every `every` seconds in a thread, keeping the
    peaks; `now()` takes a sample on demand for the edges of a measured window."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid = pid
        self.every = every
        self.peak_pss_kb = 0
        self.peak_rss_kb = 0
        self.last: Sample | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> Sample:
        pids = tree(self.pid)
        pss, rss = memory_kb(pids)
        own = stat_fields(self.pid)
        own_cpu = (int(own[11]) + int(own[12])) / TICK if own else 0.0
        s = Sample(time.time(), cpu_seconds(pids), own_cpu, pss, rss, len(pids))
        with self._lock:
            if stat_fields(self.pid) is not None:
                self.peak_pss_kb = max(self.peak_pss_kb, pss)
                self.peak_rss_kb = max(self.peak_rss_kb, rss)
                self.last = s
        return s

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.now()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
