"""Tables as Markdown (readable on a terminal and appendable to RESULTS.md as they are), and the
header that says on what machine and code a set of tables was measured."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: str = ""  # a script's own printed output, shown as it is instead of rows

    def add(self, *cells: object) -> None:
        self.rows.append([_cell(c) for c in cells])

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.raw:
            return "\n".join([*lines, "```", self.raw.rstrip(), "```"]) + "\n"
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(row + [""] * (len(self.columns) - len(row))) + " |")
        if self.notes:
            lines.append("")
            lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value).replace("|", "\\|")


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import feedparser

    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return (
        f"{os.cpu_count()} cores, {model}; Python {platform.python_version()}, watcher {commit}, "
        f"feedparser {feedparser.__version__}, SQLite {sqlite3.sqlite_version}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average at start "
        f"{os.getloadavg()[0]:.1f} (other work on the machine slows wall times)"
    )


def append_results(command: str, tables: list[Table]) -> None:
    block = [f"## `{command}`", "", machine(), ""] + [t.markdown() for t in tables]
    with RESULTS.open("a", encoding="utf-8") as out:
        if out.tell() == 0:
            out.write(
                "# Benchmark results\n\nAppended by `python -m benchmarks --append-results`; "
                "newest last. See benchmarks/README.md for what each column means.\n\n"
            )
        out.write("\n".join(block) + "\n")
