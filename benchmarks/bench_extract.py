"""Extraction quality and cost on ../shared/corpus/pages, against the corpus's ground truth.

Compares plain `trafilatura.extract(favor_precision=True)` with watcher's extract_article
(the same trafilatura call plus link-dense-list and heading-grid pruning). Quality is word-level
precision/recall/F1 against the scrapinghub `articleBody` truth; the tert.am pages (no truth;
Caucasus keywords only in their teaser boxes) are counted as decoys: how many of them still
mention Karabakh/Artsakh/Pashinyan in the extracted body.

    python benchmarks/bench_extract.py
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from watcher.ingest.extract import extract_article

PAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "pages"
DECOY_TERMS = re.compile(r"Karabakh|Ղարաբաղ|Արցախ|Artsakh|Փաշինյան|Pashinyan", re.I)


def words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def prf(got: str, truth: str) -> tuple[float, float, float]:
    g, t = words(got), words(truth)
    overlap = sum((g & t).values())
    p = overlap / max(1, sum(g.values()))
    r = overlap / max(1, sum(t.values()))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def plain(html: bytes) -> str:
    return (
        trafilatura.extract(
            html,
            favor_precision=True,
            include_comments=False,
            include_tables=False,
            deduplicate=True,
        )
        or ""
    )


def ours(html: bytes) -> str:
    e = extract_article(html, "https://example.org/article")
    return e.text if e else ""


def main() -> None:
    if not PAGES.is_dir():
        sys.exit(f"corpus not found at {PAGES}")
    truth_pages = []
    for j in sorted(PAGES.glob("scrapinghub__*.json")):
        body = json.loads(j.read_text(encoding="utf-8")).get("articleBody")
        html = j.with_suffix(".html")
        if body and html.exists():
            truth_pages.append((html.read_bytes(), body))
    for txt in sorted(PAGES.glob("newspaper4k__*.txt")):  # newspaper4k's expected article text
        html = txt.with_suffix(".html")
        if html.exists():
            truth_pages.append((html.read_bytes(), txt.read_text(encoding="utf-8")))
    for exp in sorted(PAGES.glob("readability__*.expected.html")):  # readability's expected body
        html = PAGES / exp.name.replace(".expected.html", ".html")
        if html.exists():
            body = trafilatura.html2txt(exp.read_bytes()) or ""
            truth_pages.append((html.read_bytes(), body))
    decoys = [p.read_bytes() for p in sorted(PAGES.glob("tertam__*.html"))]
    print(
        f"{len(truth_pages)} pages with a truth text (scrapinghub, newspaper4k, readability), "
        f"{len(decoys)} tert.am decoy pages"
    )
    head = ("extractor", "P med", "R med", "F1 med", "F1 mean", "ms/page med", "decoys hit")
    print("{:<10} {:>6} {:>6} {:>7} {:>8} {:>12} {:>11}".format(*head))
    for name, fn in (("plain", plain), ("watcher", ours)):
        scores, times = [], []
        for html, body in truth_pages:
            t0 = time.perf_counter()
            got = fn(html)
            times.append((time.perf_counter() - t0) * 1000)
            scores.append(prf(got, body))
        hit = sum(bool(DECOY_TERMS.search(fn(html))) for html in decoys)
        p, r, f = (statistics.median(s[i] for s in scores) for i in range(3))
        fmean = statistics.mean(s[2] for s in scores)
        ms = statistics.median(times)
        hits = f"{hit}/{len(decoys)}"
        print(f"{name:<10} {p:>6.3f} {r:>6.3f} {f:>7.3f} {fmean:>8.3f} {ms:>12.1f} {hits:>11}")


if __name__ == "__main__":
    main()
