"""What watcher is compared with, on the same farm in the same run: the loop a user would write
(`for url in urls: feedparser.parse(url)`) and rss2email (`r2e run --no-send`). Both are
sequential, so each runs over a sample of the feeds and is extrapolated linearly to all of them
(the tables say so)."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

NAIVE = """
import json, sys, time
import feedparser
urls = sys.argv[1:]
wall, cpu = time.perf_counter(), time.process_time()
entries = 0
for url in urls:
    entries += len(feedparser.parse(url).entries)
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "entries": entries}))
"""


@dataclass(frozen=True)
class Baseline:
    name: str
    sample: int  # feeds it polled
    wall: float  # over the sample
    cpu: float
    entries: int
    extra: str = ""  # what the figure covers, for the table

    def scaled(self, feeds: int) -> tuple[float, float]:
        """(wall, CPU) extrapolated linearly to `feeds`."""
        k = feeds / self.sample
        return self.wall * k, self.cpu * k


def naive(urls: list[str]) -> Baseline:
    """The loop in a fresh interpreter; its start-up and imports are not timed."""
    out = subprocess.run(
        [sys.executable, "-c", NAIVE, *urls], capture_output=True, text=True, check=True
    )
    r = json.loads(out.stdout)
    return Baseline("naive feedparser loop", len(urls), r["wall"], r["cpu"], r["entries"])


def _r2e() -> str | None:
    found = shutil.which("r2e") or str(Path(sys.executable).with_name("r2e"))
    return found if Path(found).exists() else None


def _children() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), r.ru_utime + r.ru_stime


def rss2email(urls: list[str], runs: int = 1) -> list[Baseline] | str:
    """`r2e run --no-send` over the feeds of an OPML import: fetch, parse and turn every new
    entry into an email message (html2text), sending nothing. Its start-up (`r2e list` on the
    same files) is measured apart and counted once, not once per feed. With runs=2 the second
    run is the next cycle (conditional requests from its saved ETags). A string says why it
    could not run."""
    r2e = _r2e()
    if r2e is None:
        return "rss2email not installed (pip install rss2email)"
    folder = Path(tempfile.mkdtemp(prefix="watcher-bench-r2e-"))
    base = [r2e, "-c", str(folder / "r2e.cfg"), "-d", str(folder / "r2e.json")]
    opml = folder / "feeds.opml"
    outlines = "".join(
        f"<outline type='rss' text='f{i}' xmlUrl={quoteattr(u)}/>" for i, u in enumerate(urls)
    )
    opml.write_text(f"<?xml version='1.0'?><opml version='1.0'><body>{outlines}</body></opml>")
    try:
        subprocess.run([*base, "new", "bench@example.org"], capture_output=True, check=True)
        subprocess.run([*base, "opmlimport", str(opml)], capture_output=True, check=True)
        w0, c0 = _children()
        subprocess.run([*base, "list"], capture_output=True, check=True)
        w1, c1 = _children()
        start_wall, start_cpu = w1 - w0, c1 - c0
        out: list[Baseline] = []
        for n in range(runs):
            w1, c1 = _children()
            done = subprocess.run([*base, "run", "--no-send"], capture_output=True, text=True)
            w2, c2 = _children()
            if done.returncode != 0:
                return f"r2e run failed ({done.returncode}): {done.stderr.strip()[-300:]}"
            data = json.loads((folder / "r2e.json").read_text())
            seen = sum(len(f.get("seen", {})) for f in data.get("feeds", []))
            out.append(
                Baseline(
                    f"rss2email r2e run --no-send{', next cycle' if n else ''}",
                    len(urls),
                    (w2 - w1) - start_wall,
                    (c2 - c1) - start_cpu,
                    seen,
                    f"its start-up ({start_wall:.2f} s wall, {start_cpu:.2f} s CPU) not scaled",
                )
            )
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"rss2email could not be set up: {exc}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out
