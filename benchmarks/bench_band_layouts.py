"""Benchmark: what the near-duplicate band index costs as it grows, in layouts tried for issue 18.

    python benchmarks/bench_band_layouts.py [--sizes 0,10000,50000]

Each new story adds 42 band keys (watcher.neardup.BANDS), random 63-bit values; stories are
written 200 a transaction, as a busy poll cycle writes them, into a fresh SQLite database
(WAL, synchronous=NORMAL, the store's page cache). Printed per layout and stories stored: CPU
ms to insert one story's keys, and CPU µs to look up one key (an EXISTS within the window, as
Nearby.present asks for every key of every new story). sqlite3 alone: no watcher code runs, so
the figures are the layouts' own floors.

  table     the store's story_bands: rowid table, index (band_key, seen_at), index (story_id)
  keyed     index (band_key, story_id) instead: a smaller entry, the same random inserts
  clustered WITHOUT ROWID (band_key, story_id) and an index on story_id: one B-tree fewer
  fts5      one row per story, its keys as tokens of an external-content FTS5 table
            (detail=none): segments are written in order and merged, an LSM, not a B-tree
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable

BANDS = 42
PER_TRANSACTION = 200
CACHE = "PRAGMA cache_size=-8192"  # as watcher.store.db sets it
SEEN = "2026-12-03 10:00:00.000000"
SINCE = "2026-11-30 10:00:00.000000"

LAYOUTS = {
    "table": [
        "CREATE TABLE b (id INTEGER PRIMARY KEY, story_id INT, band_key INT, seen_at TEXT)",
        "CREATE INDEX b_key ON b (band_key, seen_at)",
        "CREATE INDEX b_story ON b (story_id)",
    ],
    "keyed": [
        "CREATE TABLE b (id INTEGER PRIMARY KEY, story_id INT, band_key INT, seen_at TEXT)",
        "CREATE INDEX b_key ON b (band_key, story_id)",
        "CREATE INDEX b_story ON b (story_id)",
    ],
    "clustered": [
        "CREATE TABLE b (band_key INT, story_id INT, seen_at TEXT, "
        "PRIMARY KEY (band_key, story_id)) WITHOUT ROWID",
        "CREATE INDEX b_story ON b (story_id)",
    ],
    "fts5": [
        "CREATE TABLE s (story_id INTEGER PRIMARY KEY, seen_at TEXT, keys TEXT)",
        "CREATE VIRTUAL TABLE f USING fts5(keys, content='s', content_rowid='story_id', "
        "detail='none', columnsize=0)",
    ],
}


def token(key: int) -> str:
    return f"k{key:x}"


def writer(db: sqlite3.Connection, layout: str, rng: random.Random) -> Callable[[int, int], None]:
    def write(first: int, n: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        stories = [(first + i, [rng.getrandbits(63) for _ in range(BANDS)]) for i in range(n)]
        if layout == "fts5":
            rows = [(sid, SEEN, " ".join(token(k) for k in keys)) for sid, keys in stories]
            db.executemany("INSERT INTO s VALUES (?, ?, ?)", rows)
            db.executemany(
                "INSERT INTO f (rowid, keys) VALUES (?, ?)", [(r[0], r[2]) for r in rows]
            )
        else:  # in key order, as index_stories writes them
            bands = sorted(((sid, k, SEEN) for sid, keys in stories for k in keys), key=_key)
            db.executemany("INSERT INTO b (story_id, band_key, seen_at) VALUES (?, ?, ?)", bands)
        db.execute("COMMIT")

    return write


def _key(row: tuple[int, int, str]) -> int:
    return row[1]


def lookup(db: sqlite3.Connection, layout: str, keys: list[int]) -> None:
    if layout == "fts5":
        sql = (
            "SELECT v.value FROM json_each(?) AS v WHERE EXISTS "
            "(SELECT 1 FROM f WHERE f MATCH v.value AND rowid >= 0)"
        )
        db.execute(sql, (json.dumps([token(k) for k in keys]),)).fetchall()
        return
    sql = (
        "SELECT v.value FROM json_each(?) AS v WHERE EXISTS "
        "(SELECT 1 FROM b WHERE band_key = v.value AND seen_at >= ?)"
    )
    db.execute(sql, (json.dumps(keys), SINCE)).fetchall()


def measure(layout: str, sizes: list[int], folder: str) -> list[tuple[int, float, float]]:
    path = os.path.join(folder, f"{layout}.db")
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", CACHE):
        db.execute(pragma)
    for ddl in LAYOUTS[layout]:
        db.execute(ddl)
    rng = random.Random(18)
    write = writer(db, layout, rng)
    stored, out = 0, []
    for size in sizes:
        while stored < size:
            write(stored + 1, 1000)
            stored += 1000
        t = time.process_time()
        for _ in range(5):
            write(stored + 1, PER_TRANSACTION)
            stored += PER_TRANSACTION
        insert_ms = (time.process_time() - t) * 1000 / (5 * PER_TRANSACTION)
        keys = [rng.getrandbits(63) for _ in range(900)]
        t = time.process_time()
        lookup(db, layout, keys)
        lookup_us = (time.process_time() - t) * 1e6 / len(keys)
        out.append((size, insert_ms, lookup_us))
    db.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="0,10000,50000", help="stories stored before measuring")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{BANDS} keys a story, {PER_TRANSACTION} stories a transaction; CPU per story / key")
    print("| layout | stored | insert ms/story | lookup µs/key | per story with 42 lookups ms |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for layout in LAYOUTS:
            for size, insert_ms, lookup_us in measure(layout, sizes, folder):
                total = insert_ms + BANDS * lookup_us / 1000
                print(
                    f"| {layout} | {size:,} | {insert_ms:.3f} | {lookup_us:.1f} | {total:.3f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
