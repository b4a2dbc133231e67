"""Where the daemon's Python heap goes: run `watcher` under tracemalloc and dump the top
allocation sites on SIGUSR1, or once after --after seconds, to stderr (or --out).

    PYTHONPATH=. python benchmarks/memtrace.py [--after 60] [--top 30] [--frames 1]
        [--key lineno|traceback] [--out FILE] -- run -c watcher.yaml

Kept out of `watcher`: tracemalloc slows allocation and doubles the heap it watches, so the
figures say where memory goes, not how much the daemon uses (for that, PSS from /proc as in
bench_poll_cost.py). The dump runs in a thread so that a daemon busy on its event loop is
snapshotted as it stands.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import tracemalloc


def rss() -> str:
    with open("/proc/self/status", encoding="ascii") as f:
        return " ".join(
            line.split(":")[0] + " " + " ".join(line.split()[1:2]) + " kB"
            for line in f
            if line.startswith(("VmRSS", "VmHWM"))
        )


def dump(top: int, key: str, out: str | None) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    stats = snapshot.statistics(key)
    total = sum(s.size for s in stats)
    current, peak = tracemalloc.get_traced_memory()
    lines = [
        f"# traced {total / 2**20:.1f} MiB in {sum(s.count for s in stats)} blocks; "
        f"current {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB; {rss()}"
    ]
    for s in stats[:top]:
        where = "\n    ".join(s.traceback.format()) if key == "traceback" else str(s.traceback)
        lines.append(f"{s.size / 2**20:8.2f} MiB {s.count:9d}  {where}")
    text = "\n".join(lines) + "\n"
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stderr.write(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--after", type=float, default=0, help="dump once after so many s")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--key", choices=("lineno", "traceback", "filename"), default="lineno")
    parser.add_argument("--out")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    tracemalloc.start(args.frames)

    def request(*_: object) -> None:
        threading.Thread(target=dump, args=(args.top, args.key, args.out), daemon=True).start()

    signal.signal(signal.SIGUSR1, request)
    if args.after:
        timer = threading.Timer(args.after, dump, args=(args.top, args.key, args.out))
        timer.daemon = True
        timer.start()
    from watcher.cli import main as watcher_main

    return watcher_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
