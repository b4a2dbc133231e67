"""Per-task deadlines and memory ceilings for the worker processes (watcher.ingest.workers).

Why three layers: a hostile page can hold a C parser for a minute (3 MB of nested divs: 64 s and
690 MB in trafilatura), and no single mechanism stops every case.
- Inside the worker, SIGALRM at the deadline raises in Python code (feedparser's and
  trafilatura's loops), and the worker lives on.
- Inside the worker, RLIMIT_CPU a little past the deadline: the kernel ends a worker stuck in C
  code, which the alarm cannot interrupt; the pool is then replaced.
- In the parent, a deadline past both: a worker that answers nothing (stopped, wedged) is
  killed with its pool, so no call waits forever.
Memory: RLIMIT_AS caps how far a worker may grow past its size at its first task, so an
allocation beyond it fails (MemoryError) instead of taking the machine; and the parent reads
each worker's resident size after every task and replaces the pool when one has grown past
`recycle_mb` or the pool has run `recycle_tasks` tasks (fragmented heaps do not shrink).
"""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

from watcher.errors import WorkerError

T = TypeVar("T")

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_CEILING_SET = False


@dataclass(frozen=True)
class WorkerLimits:
    parse_seconds: float = 30.0
    extract_seconds: float = 30.0
    prepare_seconds: float = 120.0  # one call prepares every new story of a feed
    memory_mb: int = 1024  # growth a worker may add past its size at its first task
    recycle_tasks: int = 2000
    recycle_mb: int = 700  # resident size past which a worker's pool is replaced

    def seconds(self, what: str) -> float:
        return {"parsing": self.parse_seconds, "extracting": self.extract_seconds}.get(
            what, self.prepare_seconds
        )

    @staticmethod
    def parent_deadline(seconds: float) -> float:
        """When the parent stops waiting: past the alarm and the CPU limit, with room for a
        worker that is merely slow to be scheduled on a loaded machine."""
        return seconds * 2 + 5


DEFAULT_LIMITS = WorkerLimits()


class _Overrun(BaseException):
    """Raised by the alarm; a BaseException so a stage's own `except Exception` cannot eat it."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Overrun


def run_bounded(what: str, seconds: float, memory_mb: int, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in this worker within `seconds` and the memory ceiling."""
    _set_memory_ceiling(memory_mb)
    used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    cpu_soft = int(used + seconds * 1.5) + 2
    if cpu_hard != resource.RLIM_INFINITY:
        cpu_soft = min(cpu_soft, cpu_hard)
    previous = signal.signal(signal.SIGALRM, _alarm)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_soft, cpu_hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    except _Overrun:
        raise WorkerError(f"{what}: over the {seconds:g}s deadline; abandoned") from None
    except MemoryError:
        raise WorkerError(f"{what}: over the {memory_mb} MB memory ceiling; abandoned") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_hard, cpu_hard))


def _set_memory_ceiling(memory_mb: int) -> None:
    """Once per worker: its address space may grow `memory_mb` past what it holds now (the
    parsers, models and compiled rules, which differ from machine to machine)."""
    global _CEILING_SET
    if _CEILING_SET or memory_mb <= 0:
        return
    _CEILING_SET = True
    size = _vm_bytes("self")
    if size is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = size + memory_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))


def _vm_bytes(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[0]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def resident_mb(pid: int) -> float | None:
    """A process's resident size now, from outside it (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return None


def largest_mb(pids: Iterable[int]) -> float:
    return max((mb for pid in pids if (mb := resident_mb(pid)) is not None), default=0.0)
