"""The benchmark suite end to end at its smallest (`python -m benchmarks --quick --scenario
cold` on 20 feeds), so the harness cannot rot while the daemon changes under it: the table
must have its columns, every story the farm served must be stored, every story carrying the
rule's word alerted exactly once and no other story alerted, and the figures must be of the
right kind (positive CPU, ordered percentiles, PSS under RSS).
Nothing here judges speed: the suite prints figures, it does not assert them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
FEEDS, ITEMS, MATCH_EVERY = 20, 3, 4

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is absent")


def _rows(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The cold-start table's header and its rows by their first cell."""
    lines = [ln for ln in text.splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0]] = cells
    return header, rows


def _ppp(cell: str) -> list[float]:
    return [float(v) for v in cell.split("/")]


def test_quick_cold_start_prints_a_complete_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--scenario", "cold",
         "--feeds", str(FEEDS), "--items", str(ITEMS), "--naive", "5",
         "--match-every", str(MATCH_EVERY)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    header, rows = _rows(done.stdout)
    for column in ("who", "feeds", "stories", "clusters", "marked", "alerts", "marked alerted",
                   "wall s", "CPU s",
                   "CPU ms/poll", "CPU ms/story", "stories/s", "seen->alert p50/95/99 s",
                   "published->alert p50/95/99 s", "PSS MB", "RSS MB", "DB MB"):  # fmt: skip
        assert column in header, column
    w = dict(zip(header, rows["watcher"], strict=True))
    stories = FEEDS * ITEMS
    assert int(w["feeds"]) == FEEDS
    assert int(w["stories"]) == stories  # everything the farm served was stored
    assert int(w["clusters"]) == stories  # distinct texts: no two stories clustered
    marked = -(-stories // MATCH_EVERY)  # one in K carries the word, the first of them included
    assert 0 < marked < stories
    assert int(w["marked"]) == marked
    # every marked story alerted, and as many alerts as marked stories: each exactly once, and
    # none for a story without the word
    assert int(w["marked alerted"]) == marked
    assert int(w["alerts"]) == marked
    assert float(w["CPU s"]) > float(w["start-up CPU s"]) > 0
    assert float(w["CPU ms/story"]) > 0
    seen, published = _ppp(w["seen->alert p50/95/99 s"]), _ppp(w["published->alert p50/95/99 s"])
    assert seen == sorted(seen) and published == sorted(published)
    assert 0 <= seen[0] <= published[0]  # a story is published before a poll sees it
    assert 0 < float(w["PSS MB"]) <= float(w["RSS MB"])
    assert float(w["DB MB"]) > 0
    naive = next(r for name, r in rows.items() if name.startswith("naive feedparser loop"))
    assert int(dict(zip(header, naive, strict=True))["stories"]) == stories
    r2e = [r for name, r in rows.items() if name.startswith("rss2email")]
    if r2e:
        assert float(dict(zip(header, r2e[0], strict=True))["CPU s"]) > 0
    else:
        assert "rss2email:" in done.stdout  # the table says why it did not run
    assert "extrapolated linearly" in done.stdout
