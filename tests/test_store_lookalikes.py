"""Stories that share band keys with stored stories, or with stories written earlier in the
same transaction, by chance are written in the poll's batch, checked together
(`store.clusters.Lookalikes`), instead of one by one in the careful path: the outcome must be
what the careful path gives for every story. Stories built of shared stock sentences
collide in LSH buckets often without being the same story, and every twentieth is an edited
reprint of an earlier one, which must join it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from benchmarks.bench_cluster import rate_table
from tests.test_cluster_bounds import Seen
from watcher.config import FeedConfig
from watcher.store import Store, sync_feeds
from watcher.store.clusters import MAX_CANDIDATES
from watcher.store.feeds import FeedUpdate
from watcher.store.stories import PollToSave, _save_one, save_polls
from watcher.store.tables import StoryRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEEDS = ["a", "b", "c", "d"]
SUBJECTS = ["ministry", "central bank", "border service", "parliament", "court", "mayor's office"]
VERBS = ["announced", "postponed", "reviewed", "approved", "criticised", "extended"]
OBJECTS = ["budget plan", "gas deal", "road repairs", "school reform", "export quota", "tax rules"]
PLACES = ["Tbilisi", "Yerevan", "Baku", "Batumi", "Gyumri", "Ganja"]
WHEN = ["on Monday", "late on Friday", "this week", "after a long session", "on Tuesday"]


def sentence(rng: random.Random) -> str:
    return (
        f"The {rng.choice(SUBJECTS)} {rng.choice(VERBS)} the {rng.choice(OBJECTS)} "
        f"in {rng.choice(PLACES)} {rng.choice(WHEN)}."
    )


def bodies(n: int) -> list[str]:
    rng = random.Random(18)
    out: list[str] = []
    for i in range(n):
        if i % 20 == 19:  # an edited reprint of an earlier story: one sentence replaced
            parts = out[rng.randrange(len(out))].split(". ")
            parts[rng.randrange(len(parts))] = sentence(rng).rstrip(".")
            out.append(". ".join(parts))
        else:
            out.append(" ".join(sentence(rng) for _ in range(6)))
    return out


def polls(seen: Seen, texts: list[tuple[str, str]], per_poll: int) -> list[list[PollToSave]]:
    """Transactions of five polls, ten minutes apart."""
    out = []
    for t in range(len(texts) // (5 * per_poll)):
        at = T0 + timedelta(minutes=10 * t)
        update = FeedUpdate(polled_at=at, next_poll_at=at, status=200, error=None)
        batch = []
        for p in range(5):
            feed = FEEDS[(t * 5 + p) % len(FEEDS)]
            first = (t * 5 + p) * per_poll
            items = [
                seen.item(feed, n, texts[n][0] or f"Report number {n} from {feed}", texts[n][1], at)
                for n in range(first, first + per_poll)
            ]
            batch.append(PollToSave(feed, update, items))
        out.append(batch)
    return out


@pytest.fixture
def stores(tmp_path: Path, database_url: str) -> Iterator[tuple[Store, Store]]:
    if database_url.startswith("sqlite"):
        urls = [f"sqlite:///{tmp_path}/batched.db", f"sqlite:///{tmp_path}/careful.db"]
    else:
        urls = [database_url, f"sqlite:///{tmp_path}/careful.db"]
    made = [Store(u) for u in urls]
    for store in made:
        store.create_schema()
        sync_feeds(
            store, [FeedConfig(name=f, url=f"https://{f}.example/rss") for f in FEEDS], T0, 300
        )
    try:
        yield made[0], made[1]
    finally:
        for store in made:
            store.close()


def outcome(store: Store, seen: Seen) -> dict[str, tuple[str, int, bool, tuple[str, ...]]]:
    """Per story key: the key of its cluster's first story, and what its alert builder saw."""
    with store.read() as s:
        rows = s.exec(select(StoryRow.id, StoryRow.key, StoryRow.cluster_id)).all()
    key_of = {sid: key for sid, key, _ in rows}
    return {
        key: (
            key_of[cid or sid],
            seen.infos[key].compared,
            seen.infos[key].cluster_id is None,
            seen.infos[key].sources,
        )
        for sid, key, cid in rows
    }


def both_ways(
    stores: tuple[Store, Store], texts: list[tuple[str, str]], per_poll: int
) -> tuple[dict[str, tuple[str, int, bool, tuple[str, ...]]], ...]:
    """What the batched path and the careful one (every story on its own) stored."""
    batched_store, careful_store = stores
    batched, careful = Seen(), Seen()
    for transaction in polls(batched, texts, per_poll):
        assert save_polls(batched_store, transaction) == [None] * len(transaction)
    for transaction in polls(careful, texts, per_poll):
        with careful_store.write() as s:
            for poll in transaction:
                for item in poll.items:
                    _save_one(s, poll.feed, item, poll.update.polled_at)
    return outcome(batched_store, batched), outcome(careful_store, careful)


def test_chance_lookalikes_are_batched_with_the_careful_outcome(
    stores: tuple[Store, Store],
) -> None:
    got, want = both_ways(stores, [("", body) for body in bodies(400)], 10)
    assert got == want
    assert len(got) == 400
    # the data does exercise both paths: reprints joined an earlier story, and stories that
    # shared band keys with stored ones by chance were compared and stayed apart
    joined = [k for k, (first, _, _, _) in got.items() if first != k]
    compared_apart = [k for k, (first, n, alone, _) in got.items() if alone and n > 0]
    assert len(joined) >= 10
    assert len(compared_apart) >= 20


def test_crowded_buckets_within_a_transaction_keep_the_careful_outcome(
    stores: tuple[Store, Store],
) -> None:
    """A rate table in every poll, a hundred a transaction: each band bucket holds several
    times PER_KEY stories of the same transaction, of which only the newest count."""
    got, want = both_ways(stores, [rate_table(n) for n in range(300)], 20)
    assert got == want
    assert all(n == MAX_CANDIDATES for _, n, _, _ in list(got.values())[100:])
