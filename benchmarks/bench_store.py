"""Storage throughput and size on SQLite and PostgreSQL.

Prints stories stored per second through the real write path (`save_poll`: one transaction per
poll, with each story's MinHash signature and LSH band rows, the search text and a match for
one story in ten), side by side with the naive SQLModel path of one commit per story; and the
database size per 10,000 stories with article bodies (corpus pages' extracted text).

    python benchmarks/bench_store.py                     # SQLite, and PostgreSQL if reachable
    WATCHER_BENCH_PG=postgresql://postgres@127.0.0.1:5432/test python benchmarks/bench_store.py
    python benchmarks/bench_store.py --postgresql-only
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlmodel import Session

from watcher.config import FeedConfig
from watcher.ingest.extract import extract_article
from watcher.model import NewStory
from watcher.neardup import fingerprint
from watcher.rules import RuleSet, RuleSpec, normalise_text
from watcher.rules.model import Document
from watcher.store import Store, sync_feeds
from watcher.store.feeds import FeedUpdate
from watcher.store.stats import db_stats
from watcher.store.stories import StoryToSave, save_poll
from watcher.store.tables import StoryRow

PAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "pages"
PG_ADMIN = os.environ.get("WATCHER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
N_RATE = 2_000  # stories per timed run (3 runs, median)
N_SIZE = 10_000  # stories in the run that measures size
N_NAIVE = 500
BATCH = 100
T0 = datetime(2026, 11, 28, tzinfo=UTC)


def bodies() -> list[tuple[str, str]]:
    out = []
    for page in sorted(PAGES.glob("*.html")):
        e = extract_article(page.read_bytes(), "https://example.org/a")
        if e is not None:
            out.append((e.title or page.stem, e.text))
    if not out:
        sys.exit(f"no corpus pages at {PAGES}")
    return out


def story(i: int, title: str, body: str) -> NewStory:
    return NewStory(feed="wire", key=f"guid:{i}", guid=str(i), url=f"https://example.org/{i}",
                    canonical_url=f"https://example.org/{i}", title=f"{title} #{i}", summary="",
                    body=body, body_source="page", language="en",
                    search_text=normalise_text(f"{title}\n{body}"), content_hash=f"{i:064x}",
                    published_at=T0, first_seen_at=T0 + timedelta(seconds=i))  # fmt: skip


def prepare(texts: list[tuple[str, str]], n: int) -> list[StoryToSave]:
    """Stories as the pipeline hands them to the store (fingerprints computed beforehand: this
    measures storage, not MinHash)."""
    rules = RuleSet.compile([RuleSpec(name="r", any=("Karabakh", "Azerbaijan", "Armenia"))], {})
    prepared = []
    for i in range(n):
        title, body = texts[i % len(texts)]
        # every story distinct: a number in the title and a different body prefix
        body = f"Bulletin {i}. {body}"
        s = story(i, title, body)
        matches = tuple(rules.match(Document(title=s.title, body=body))) if i % 10 == 0 else ()
        prepared.append(
            StoryToSave(story=s, matches=matches, fingerprint=fingerprint(s.title, body))
        )
    return prepared


def batched(store: Store, prepared: list[StoryToSave]) -> float:
    sync_feeds(store, [FeedConfig(name="wire", url="https://example.org/rss")], T0, 300)
    n = len(prepared)
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        update = FeedUpdate(polled_at=T0, next_poll_at=T0, status=200, error=None)
        save_poll(store, "wire", update, prepared[start : start + BATCH])
    return n / (time.perf_counter() - t0)


def naive(store: Store, texts: list[tuple[str, str]], n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        title, body = texts[i % len(texts)]
        with Session(store.engine) as s:
            s.add(StoryRow(**story(10_000_000 + i, title, body).__dict__))
            s.commit()
    return n / (time.perf_counter() - t0)


def run(label: str, url_factory, texts: list[tuple[str, str]], prepared: list[StoryToSave]) -> None:  # type: ignore[no-untyped-def]
    rates, naive_rates = [], []
    for _ in range(3):
        with url_factory() as url:
            store = Store(url)
            store.create_schema()
            rates.append(batched(store, prepared[:N_RATE]))
            naive_rates.append(naive(store, texts, N_NAIVE))
            store.close()
    with url_factory() as url:
        store = Store(url)
        store.create_schema()
        batched(store, prepared[:N_SIZE])
        size = db_stats(store)["size_bytes"] * 10_000 / N_SIZE
        store.close()
    rate, nrate = statistics.median(rates), statistics.median(naive_rates)
    print(
        f"{label:<11} {rate:>10,.0f} {nrate:>12,.0f} {rate / nrate:>7.1f}x {size / 2**20:>12.1f}",
        flush=True,
    )


class _SQLite:
    def __enter__(self) -> str:
        self.dir = tempfile.TemporaryDirectory()
        return f"sqlite:///{self.dir.name}/bench.db"

    def __exit__(self, *exc: object) -> None:
        self.dir.cleanup()


class _Postgres:
    def __enter__(self) -> str:
        import psycopg

        self.name = f"watcher_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        return f"{base}/{self.name}"

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def main() -> None:
    texts = bodies()
    prepared = prepare(texts, N_SIZE)
    print(
        f"stories/s: {N_RATE:,} stories through save_poll in polls of {BATCH} (median of 3 runs); "
        f"naive: {N_NAIVE:,} one-commit-per-story SQLModel inserts; size: after {N_SIZE:,} stories",
        flush=True,
    )
    print(f"{'backend':<11} {'stories/s':>10} {'naive/s':>12} {'ratio':>8} {'MiB/10k st.':>12}")
    if "--postgresql-only" not in sys.argv:
        run("SQLite", _SQLite, texts, prepared)
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            conn.execute(text("select 1").text)
    except Exception as exc:
        print(f"PostgreSQL   skipped: {exc}")
        return
    run("PostgreSQL", _Postgres, texts, prepared)


if __name__ == "__main__":
    main()
