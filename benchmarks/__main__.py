"""The benchmark suite: `python -m benchmarks --scenario NAME` (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import importlib
import shlex
import subprocess
import sys
from pathlib import Path

from benchmarks.report import Table, append_results, machine

SCENARIOS = ("cold", "steady", "burst", "rules", "idle", "growth", "quality")
# scenarios kept as scripts of their own: module, and the arguments the suite runs it with
SCRIPTS = {"growth": ("bench_growth", []), "quality": ("bench_extract", ["--seed", "15"])}
QUICK = {
    "feeds": [50],
    "items": 5,
    "naive": 10,
    "idle_seconds": 10.0,
    "burst": 100,
    "burst_feeds": 10,
    "steady_feeds": 50,
    "steady_cycle": 8.0,
    "rules_feeds": 30,
    "rule_terms": [10, 1000],
    "timeout": 120.0,
}


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument(
        "--scenario", action="append", choices=SCENARIOS, help="repeatable; default: all"
    )
    ap.add_argument("--feeds", type=int, action="append", help="cold: repeatable (default 1000)")
    ap.add_argument("--hosts", type=int, default=0, help="loopback hosts (default: one per feed)")
    ap.add_argument("--items", type=int, default=10, help="items per feed at the start")
    ap.add_argument("--latency", type=float, default=0.05, help="seconds per answer")
    ap.add_argument("--templated", action="store_true", help="the same words but a number")
    ap.add_argument(
        "--match-every",
        type=int,
        default=10,
        metavar="K",
        help="one story in K carries the alerting rule's word (1: every story alerts)",
    )
    ap.add_argument("--terms", type=int, default=1000, help="rule terms (rules scenario aside)")
    ap.add_argument("--concurrency", type=int, default=100, help="polling.concurrency")
    ap.add_argument("--interval", default="1h", help="feeds' pinned interval (cold, idle)")
    ap.add_argument(
        "--no-alerts",
        action="store_true",
        help="cold, idle, rules: match but send nothing (per-story CPU without delivery)",
    )
    ap.add_argument("--naive", type=int, default=100, help="feeds the baselines poll")
    ap.add_argument("--no-rss2email", action="store_true")
    ap.add_argument("--steady-feeds", type=int, default=1000)
    ap.add_argument("--steady-cycle", type=float, default=15.0, help="seconds between polls")
    ap.add_argument("--burst", type=int, default=2000, help="stories published at once")
    ap.add_argument("--burst-feeds", type=int, default=200)
    ap.add_argument("--rules-feeds", type=int, default=200)
    ap.add_argument("--rule-terms", type=int, action="append", help="default 10, 1000, 10000")
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    ap.add_argument("--timeout", type=float, default=600.0, help="per measured phase")
    ap.add_argument("--quick", action="store_true", help="everything small")
    ap.add_argument("--append-results", action="store_true", help="to benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    if args.match_every < 1:
        ap.error("--match-every must be 1 or more")
    if args.quick:
        for k, v in QUICK.items():
            if getattr(args, k) == ap.get_default(k):
                setattr(args, k, v)
    args.feeds = args.feeds or [1000]
    args.rule_terms = args.rule_terms or [10, 1000, 10000]
    args.scenario = args.scenario or [s for s in SCENARIOS if s != "growth" or _has_growth()]
    return args


def _has_growth() -> bool:
    return (Path(__file__).resolve().parent / "bench_growth.py").exists()


def _scenario(name: str, args: argparse.Namespace) -> list[Table]:
    """A scenario module's tables; a script of its own (SCRIPTS: growth, and quality, the
    extraction scores over the corpus truth pages) is run and its printed output kept as is."""
    module_name, script_args = SCRIPTS.get(name, (name, []))
    module = importlib.import_module(f"benchmarks.{module_name}")
    if hasattr(module, "run"):
        return list(module.run(args))
    script = Path(module.__file__ or "")
    done = subprocess.run(
        [sys.executable, str(script), *script_args],
        capture_output=True,
        text=True,
        cwd=script.parent.parent,
    )
    out = done.stdout + (
        f"\n(exit {done.returncode}) {done.stderr[-2000:]}" if done.returncode else ""
    )
    return [Table(f"{name}: {script.name}", [], raw=out)]


def main(argv: list[str]) -> None:
    args = parse(argv)
    print(machine(), flush=True)
    tables: list[Table] = []
    for name in args.scenario:
        if name == "growth" and not _has_growth():
            print("growth: benchmarks/bench_growth.py is not there yet; skipped")
            continue
        for table in _scenario(name, args):
            print(table.markdown(), flush=True)
            tables.append(table)
    if args.append_results:
        append_results(shlex.join(["python", "-m", "benchmarks", *argv]), tables)


if __name__ == "__main__":
    main(sys.argv[1:])
