"""Per-story storage cost against what is already stored (issue 18: "cost grows with what is
stored"): CPU per new story with 0, 1,000, 10,000 (and 50,000) stories in the 72-hour clustering
window, for look-alike items (the same words but for numbers: rate tables, weather, scores) and
for distinct texts.

New stories go through the pipeline's storage path, `save_polls` (20 polls of 10 items per
transaction, as the pipeline's group commit hands them over), with fingerprints computed
beforehand: this measures storing and clustering, not MinHash. The stored stories are written
beforehand by the path `save_polls` takes for stories that start their own cluster (one
multi-row insert with their band rows), spread over the window; look-alikes never pass
`same_story` with each other (numbers break most shingles of a short text), so this is what the
careful path would have stored, minus the hours it takes where cost grows with what is stored.
Mode one-number (items the same but for one number, which do pass `same_story`) is stored the
same way, each its own cluster: it measures the lookup, not the queries on a large cluster.

CPU is this process's (time.process_time), which on SQLite includes the database's work. On
PostgreSQL the server's backends run in other processes: their CPU (from /proc, same machine)
is added, and printed apart.

    python benchmarks/bench_growth.py                  # SQLite: 0, 1,000, 10,000 stored
    python benchmarks/bench_growth.py --large          # and 50,000
    python benchmarks/bench_growth.py --postgresql     # PostgreSQL (127.0.0.1:5432) instead
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watcher.config import FeedConfig
from watcher.errors import ParseError
from watcher.ingest.parse import parse_feed
from watcher.model import NewStory
from watcher.neardup import fingerprint
from watcher.rules import normalise_text
from watcher.store import Store, sync_feeds
from watcher.store.feeds import FeedUpdate
from watcher.store.stories import PollToSave, StoryToSave, _insert_batch, save_polls

FEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "feeds"
PG_ADMIN = os.environ.get("WATCHER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WINDOW_SPREAD = timedelta(hours=71)  # stored stories' ages: all inside the 72-hour window
POLLS = 20  # polls per transaction
ITEMS = 10  # new stories per poll
ROUNDS = 3  # transactions timed per (stored, mode): 600 new stories
FILL_CHUNK = 1000
CURRENCIES = ("USD", "EUR", "RUB", "GBP", "CNY", "JPY", "CHF", "GEL", "IRR", "AED")
CITIES = ("Yerevan", "Gyumri", "Vanadzor", "Dilijan", "Sevan", "Goris", "Kapan", "Ijevan")
TEAMS = ("Ararat", "Pyunik", "Alashkert", "Noah", "Urartu", "Shirak", "Van", "Ararat-Armenia")


def templated(i: int) -> tuple[str, str]:
    """Items alike but for numbers, in three families an agency publishes every day."""
    rng = random.Random(i)
    day = f"{1 + i % 28} {('November', 'December', 'January')[i // 28 % 3]} {2026 + i // 10000}"
    kind = i % 3
    if kind == 0:
        rates = ", ".join(f"{c} {rng.uniform(0.5, 500):.4f}" for c in CURRENCIES)
        return (
            f"Exchange rates for {day} (#{i})",
            f"The Central Bank set the following exchange rates for {day}: {rates}. "
            f"Reference rate of gold {rng.uniform(30000, 40000):.2f} per gram, silver "
            f"{rng.uniform(300, 500):.2f}. The rates apply to transactions from 09:00 local "
            "time and are published every business day by the bank's press service.",
        )
    if kind == 1:
        temps = ", ".join(f"{c} {rng.randint(-15, 30)} to {rng.randint(-10, 35)}" for c in CITIES)
        return (
            f"Weather forecast for {day} (#{i})",
            f"Forecasters expect temperatures for {day} as follows: {temps}. Wind "
            f"{rng.randint(1, 20)} metres per second, humidity {rng.randint(20, 99)} per cent. "
            "The hydrometeorological service advises drivers to check road conditions before "
            "travelling through the mountain passes.",
        )
    scores = ", ".join(
        f"{a} {rng.randint(0, 5)} {b} {rng.randint(0, 5)}"
        for a, b in zip(TEAMS[::2], TEAMS[1::2], strict=True)
    )
    return (
        f"Premier League results, round {i % 40 + 1} (#{i})",
        f"Results of round {i % 40 + 1} played on {day}: {scores}. Attendance "
        f"{rng.randint(500, 15000)}. The league table and the scorers' list are updated on the "
        "federation's website after every round.",
    )


def one_number(i: int) -> tuple[str, str]:
    """The same item but for one number: near-duplicates of each other, so each joins the
    cluster of the first (as the same bulletin from every agency does)."""
    return (
        f"Daily bulletin number {i}",
        f"Bulletin {i}. The Central Bank kept its key rate unchanged at its regular meeting and "
        "said inflation expectations remained anchored. The board will review the decision at "
        "its next meeting, according to the statement published on the bank's website after "
        "the session ended. Analysts had expected no change.",
    )


def vocabulary(feeds: Path) -> list[str]:
    """The words of the corpus feeds' titles and summaries, to write distinct stories with."""
    words: list[str] = []
    for path in sorted(feeds.glob("*")):
        try:
            parsed = parse_feed(path.read_bytes(), "https://feeds.example.org/" + path.name, NOW)
        except ParseError:
            continue
        for e in parsed.entries:
            text = re.sub(r"<[^>]+>", " ", f"{e.title} {e.summary or ''}")
            words += [w for w in text.split() if w.isalpha() and len(w) < 20]
    if len(words) < 1000:
        sys.exit(f"too few words in the corpus feeds at {feeds}")
    return words


def distinct(words: list[str]) -> Callable[[int], tuple[str, str]]:
    """Every story its own text: runs of corpus words in a fresh order, news-item sized."""

    def make(i: int) -> tuple[str, str]:
        rng = random.Random(1_000_000 + i)
        body = " ".join(rng.choice(words) for _ in range(rng.randint(40, 90))) + "."
        return " ".join(rng.choice(words) for _ in range(8)), body

    return make


def story(i: int, feed: str, title: str, body: str, seen: datetime) -> StoryToSave:
    fp = fingerprint(title, body)
    s = NewStory(feed=feed, key=f"guid:{i}", guid=str(i), url=f"https://example.org/{i}",
                 canonical_url=f"https://example.org/{i}", title=title, summary=body[:200],
                 body=body, body_source="feed", language="en",
                 search_text=normalise_text(f"{title}\n{body}"), content_hash=f"{i:064x}",
                 published_at=seen, first_seen_at=seen, title_key=fp.title_key)  # fmt: skip
    return StoryToSave(story=s, fingerprint=fp)


def feeds(n: int) -> list[FeedConfig]:
    return [FeedConfig(name=f"f{k}", url=f"https://example.org/{k}.xml") for k in range(n)]


def fill(store: Store, make: Callable[[int], tuple[str, str]], n: int) -> None:
    for start in range(0, n, FILL_CHUNK):
        chunk = []
        for i in range(start, min(n, start + FILL_CHUNK)):
            seen = NOW - WINDOW_SPREAD + WINDOW_SPREAD * i / max(n, 1)
            chunk.append(story(i, "old", *make(i), seen))
        with store.write() as s:
            _insert_batch(s, [(c, 0) for c in chunk], chunk[0].story.first_seen_at)


def backend_cpu(store: Store) -> float:
    """CPU seconds of the PostgreSQL backends serving this database (0 on SQLite)."""
    if store.is_sqlite:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    with store.engine.connect() as conn:
        name = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        pids = conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
        ).all()
    for (pid,) in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measure(
    store: Store, make: Callable[[int], tuple[str, str]], stored: int
) -> tuple[float, float]:
    """(ms of this process's CPU, ms of the database server's CPU) per new story."""
    sync_feeds(store, feeds(POLLS), NOW, 300)
    base = 10_000_000
    rounds = []
    for r in range(ROUNDS):
        polled = NOW + timedelta(minutes=5 * (r + 1))
        update = FeedUpdate(polled_at=polled, next_poll_at=polled, status=200, error=None)
        polls = []
        for p in range(POLLS):
            items = []
            for k in range(ITEMS):
                i = base + (r * POLLS + p) * ITEMS + k
                items.append(story(i, f"f{p}", *make(stored + i - base), polled))
            polls.append(PollToSave(f"f{p}", update, items))
        rounds.append(polls)
    cpu = server = 0.0
    for polls in rounds:
        s0, t0 = backend_cpu(store), time.process_time()
        failed = save_polls(store, polls)
        cpu += time.process_time() - t0
        server += backend_cpu(store) - s0
        if any(failed):
            sys.exit(f"storing failed: {failed}")
    n = ROUNDS * POLLS * ITEMS
    return cpu * 1000 / n, server * 1000 / n


@contextlib.contextmanager
def database(pg: bool) -> Iterator[str]:
    if not pg:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/growth.db"
        return
    import psycopg

    name = f"watcher_growth_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--large", action="store_true", help="also with 50,000 stories stored")
    ap.add_argument("--postgresql", action="store_true", help="PostgreSQL instead of SQLite")
    ap.add_argument(
        "--modes", default="templated,distinct", help="comma-separated; also: one-number"
    )
    ap.add_argument("--feeds", type=Path, default=FEEDS, help="corpus feeds for distinct texts")
    args = ap.parse_args()
    sizes = [0, 1_000, 10_000] + ([50_000] if args.large else [])
    makers = {
        "templated": templated,
        "distinct": distinct(vocabulary(args.feeds)),
        "one-number": one_number,
    }
    modes = [m for m in args.modes.split(",") if m]
    print(f"backend: {'PostgreSQL' if args.postgresql else 'SQLite'}; "
          f"{ROUNDS * POLLS * ITEMS} new stories per cell, {POLLS} polls x {ITEMS} per "
          f"transaction; CPU ms per new story")  # fmt: skip
    results: dict[tuple[str, int], tuple[float, float]] = {}
    for mode in modes:
        for stored in sizes:
            with database(args.postgresql) as url:
                store = Store(url)
                store.create_schema()
                fill(store, makers[mode], stored)
                results[mode, stored] = measure(store, makers[mode], stored)
                store.close()
            own, server = results[mode, stored]
            print(f"  measured {mode} with {stored:,} stored: {own + server:.3f} ms", flush=True)
    pg = args.postgresql
    head = "| stored | mode | ms/story (CPU) |" + (" of which server |" if pg else "")
    print("\n" + head + " ratio to empty |")
    print("|---:|---|---:|" + ("---:|" if pg else "") + "---:|")
    for mode in modes:
        empty = sum(results[mode, 0])
        for stored in sizes:
            own, server = results[mode, stored]
            cell = f" {server:.3f} |" if pg else ""
            ratio = (own + server) / empty
            print(f"| {stored:,} | {mode} | {own + server:.3f} |{cell} {ratio:.2f}x |")


if __name__ == "__main__":
    main()
