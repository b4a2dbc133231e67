"""Start-up cost of a read-only command, `watcher matches` on an empty SQLite database, for two
checkouts side by side: child CPU (getrusage) and wall time, interleaved runs, medians.

    python benchmarks/bench_startup.py OLD_CHECKOUT NEW_CHECKOUT [RUNS]

Each checkout runs from its own source (PYTHONPATH) with this interpreter's packages, on its own
database (an older schema cannot open a newer one).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run(src: str, config: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = os.times().elapsed
    subprocess.run(
        [sys.executable, "-m", "watcher", "matches", "-c", str(config)],
        env={**os.environ, "PYTHONPATH": src},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return os.times().elapsed - started, cpu


def main() -> None:
    old, new = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 9
    with tempfile.TemporaryDirectory() as tmp:
        configs = {}
        for label, src in (("old", old), ("new", new)):
            cfg = Path(tmp) / f"{label}.yaml"
            cfg.write_text(f"database: sqlite:///{tmp}/{label}.db\n", encoding="utf-8")
            run(src, cfg)  # creates the schema; not timed
            configs[src] = cfg
        results: dict[str, list[tuple[float, float]]] = {old: [], new: []}
        for _ in range(runs):
            for src in (old, new):
                results[src].append(run(src, configs[src]))
    for label, src in (("old", old), ("new", new)):
        walls = [w for w, _ in results[src]]
        cpus = [c for _, c in results[src]]
        print(
            f"{label} {src}: wall median {statistics.median(walls):.3f} s, "
            f"CPU median {statistics.median(cpus):.3f} s (n={runs})"
        )
    ratio = statistics.median(c for _, c in results[old]) / statistics.median(
        c for _, c in results[new]
    )
    print(f"CPU ratio old/new {ratio:.2f}x")


if __name__ == "__main__":
    main()
