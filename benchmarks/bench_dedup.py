"""Benchmark: the canonical link (w3lib-based, as of migration 0004) against the hand-written
one it replaced, on every entry link of the corpus feeds.

    python benchmarks/bench_dedup.py [--repeats 5]

Every poll canonicalises every entry of the feed (to ask the store which it has), not only the
new ones, so this cost is paid per entry per poll. Prints microseconds per link (median of
--repeats passes, CPU time of this process) and how many of the corpus's links the two forms
spell differently (each such stored story is what migration 0004 rewrites).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watcher.errors import ParseError
from watcher.ingest.dedup import canonical_url
from watcher.ingest.parse import parse_feed

FEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "feeds"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|yclid|mc_cid|mc_eid|igshid|_ga|ref_src|cmpid|ocid|"
    r"at_medium|at_campaign|rss|from|feed|ito|sr_share)$",
    re.I,
)


def canonical_before(url: str) -> str:
    """The form before 0004 (it raised on a port out of range; such links are skipped)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def links() -> list[str]:
    out = []
    for path in sorted(FEEDS.glob("*")):
        try:
            parsed = parse_feed(path.read_bytes(), "https://feeds.example.org/" + path.name, NOW)
        except ParseError:
            continue
        out.extend(e.link for e in parsed.entries if e.link)
    return out


def per_link(fn: Callable[[str], str], urls: list[str], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.process_time()
        for u in urls:
            fn(u)
        runs.append(time.process_time() - start)
    return statistics.median(runs) / len(urls) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    urls = []
    for u in links():
        try:
            canonical_before(u)
        except ValueError:
            continue
        urls.append(u)
    differ = sum(canonical_before(u) != canonical_url(u) for u in urls)
    print(f"links: {len(urls)} from {FEEDS}")
    print(
        f"before 0004 (hand-written): {per_link(canonical_before, urls, args.repeats):7.1f} µs/link"
    )
    print(f"0004 (w3lib):               {per_link(canonical_url, urls, args.repeats):7.1f} µs/link")
    print(f"links spelled differently by the two forms: {differ} ({differ / len(urls):.1%})")


if __name__ == "__main__":
    main()
