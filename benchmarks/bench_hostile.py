"""Hostile feed bodies: seconds and peak memory of parsing each one, with watcher's bounds
(parse_feed) and, with --raw, feedparser alone as before them. Each case runs in a fresh
process; memory is that process's peak resident size, read by the kernel.

    python benchmarks/bench_hostile.py [--raw]
"""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime


def rss(items: str, head: str = '<?xml version="1.0"?>\n') -> bytes:
    return (f'{head}<rss version="2.0"><channel><title>t</title>{items}</channel></rss>').encode()


def case(name: str) -> bytes:
    if name == "entity 50 KB x 10,000":
        head = '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "' + "x" * 50_000 + '">\n]>\n'
        return rss(
            "<item><title>t</title><description>" + "&big;" * 10_000 + "</description></item>", head
        )
    if name == "billion laughs":
        ents = '<!ENTITY l0 "lol">' + "".join(
            f'<!ENTITY l{i} "' + f"&l{i - 1};" * 10 + '">' for i in range(1, 10)
        )
        return rss(
            "<item><title>&l9;</title></item>", f'<?xml version="1.0"?><!DOCTYPE rss [{ents}]>'
        )
    if name == "200,000 items":
        return rss("".join(f"<item><title>{n}</title></item>" for n in range(200_000)))
    if name == "nested 100,000 deep":
        return rss("<item><title>t</title>" + "<x>" * 100_000 + "</x>" * 100_000 + "</item>")
    raise KeyError(name)


CASES = ["entity 50 KB x 10,000", "billion laughs", "200,000 items", "nested 100,000 deep"]


def one(name: str, raw: bool) -> None:
    body = case(name)
    import feedparser

    from watcher.errors import WatcherError
    from watcher.ingest.parse import parse_feed

    now = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    if raw:
        outcome = f"{len(feedparser.parse(io.BytesIO(body)).entries)} entries"
    else:
        try:
            outcome = f"{len(parse_feed(body, 'http://e.org/', now).entries)} entries"
        except WatcherError as exc:
            outcome = f"refused: {exc}"
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "case": name,
                "bytes": len(body),
                "s": round(seconds, 2),
                "peak_mb": round(peak),
                "result": outcome,
            }
        )
    )


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        one(sys.argv[2], raw=sys.argv[3] == "raw")
        return
    raw = "--raw" in sys.argv
    print(f"{'case':<24} {'bytes':>10} {'seconds':>8} {'peak MB':>8}  result")
    for name in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--one", name, "raw" if raw else "bounded"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['case']:<24} {r['bytes']:>10} {r['s']:>8} {r['peak_mb']:>8}  {r['result']}")


if __name__ == "__main__":
    main()
