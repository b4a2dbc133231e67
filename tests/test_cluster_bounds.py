"""Cluster lookup reads a bounded number of stories per LSH bucket (issue 18): look-alike items
(a rate table every day, in every agency feed) crowd the same buckets, and a new one must not
pay for every earlier one. The bound must not cost a reprint its cluster, and where no bucket
is crowded the candidates are exactly those of a count over every band row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from benchmarks.bench_cluster import rate_table as rates
from watcher.config import FeedConfig
from watcher.ingest.parse import Entry
from watcher.ingest.prepare import FeedRef, prepare_story
from watcher.rules import RuleSet
from watcher.store import Store, sync_feeds
from watcher.store.clusters import (
    MAX_CANDIDATES,
    PER_KEY,
    WINDOW,
    ClusterInfo,
    band_candidates,
)
from watcher.store.db import bind
from watcher.store.feeds import FeedUpdate
from watcher.store.stories import StoryToSave, save_poll
from watcher.store.tables import StoryBand, StoryRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEEDS = ("a", "b", "c", "d")
WIRE = (
    "The border commission of the two countries met in Tbilisi on Tuesday and agreed on the "
    "route of a new crossing point near the river, officials said after a six-hour session "
    "that ended late in the evening. Work is to begin in the spring, according to the "
    "statement, which also mentioned customs and rail links between the two capitals. The "
    "ministers of transport are to sign the protocol at their next meeting in Batumi."
)
REPRINT = (  # an agency's copy: a dateline, a word changed, the last sentence dropped
    "TBILISI (Agency) - "
    + WIRE.replace("Tuesday", "Tuesday evening").rsplit(" The ministers", 1)[0]
)
LOOK_ALIKES = 300  # several times PER_KEY in the crowded buckets
NO_RULES = RuleSet.compile([], {})


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.create_schema()
    sync_feeds(store, [FeedConfig(name=f, url=f"https://{f}.example/rss") for f in FEEDS], T0, 300)
    try:
        yield store
    finally:
        store.close()


class Seen:
    """The ClusterInfo each story was stored with, as the alert builder receives it."""

    def __init__(self) -> None:
        self.infos: dict[str, ClusterInfo] = {}

    def item(self, feed: str, n: int, title: str, body: str, at: datetime) -> StoryToSave:
        entry = Entry(
            guid=f"{feed}-{n}",
            link=f"https://{feed}.example/news/{n}",
            title=title,
            summary="",
            content="",
            published_at=at,
        )
        p = prepare_story(NO_RULES, FeedRef(feed), entry, body, "feed", at)
        key = p.story.key

        def alerts(info: ClusterInfo) -> tuple[()]:
            self.infos[key] = info
            return ()

        return StoryToSave(story=p.story, fingerprint=p.fingerprint, alerts=alerts)


def poll(store: Store, feed: str, items: list[StoryToSave], at: datetime) -> None:
    save_poll(store, feed, FeedUpdate(polled_at=at, next_poll_at=at, status=200, error=None), items)


def by_key(store: Store) -> dict[str, StoryRow]:
    with store.read() as s:
        return {r.key: r for r in s.exec(select(StoryRow)).all()}


def crowd(store: Store, seen: Seen, start: datetime) -> None:
    """LOOK_ALIKES rate tables over the four feeds, ten a poll, a minute apart."""
    for batch in range(LOOK_ALIKES // 10):
        at = start + timedelta(minutes=batch)
        feed = FEEDS[batch % len(FEEDS)]
        items = [seen.item(feed, n, *rates(n), at) for n in range(batch * 10, batch * 10 + 10)]
        poll(store, feed, items, at)


def test_a_reprint_joins_its_original_behind_crowded_buckets(store: Store) -> None:
    seen = Seen()
    poll(store, "a", [seen.item("a", 9000, "Border crossing agreed in Tbilisi", WIRE, T0)], T0)
    crowd(store, seen, T0 + timedelta(minutes=1))
    with store.read() as s:
        sizes = Counter(s.exec(select(StoryBand.band_key)).all())
    assert max(sizes.values()) > 2 * PER_KEY  # the look-alikes do crowd the buckets

    late = T0 + timedelta(hours=2)
    poll(store, "b", [seen.item("b", 9001, "Tbilisi: new crossing point", REPRINT, late)], late)
    nxt = LOOK_ALIKES + 1
    poll(store, "c", [seen.item("c", nxt, *rates(nxt), late)], late)

    rows = by_key(store)
    original, reprint = rows["guid:a-9000"], rows["guid:b-9001"]
    assert reprint.cluster_id == original.id
    assert seen.infos["guid:b-9001"].sources == ("a",)
    new = seen.infos[f"guid:c-{nxt}"]
    assert 1 <= new.compared <= MAX_CANDIDATES  # compared, within the bound
    assert new.cluster_id is None and rows[f"guid:c-{nxt}"].cluster_id == rows[f"guid:c-{nxt}"].id


def test_look_alikes_stay_apart_and_compare_within_the_bound(store: Store) -> None:
    seen = Seen()
    crowd(store, seen, T0)
    rows = by_key(store)
    assert all(r.cluster_id == r.id for r in rows.values())  # no rate table swallowed another
    compared = [info.compared for info in seen.infos.values()]
    assert max(compared) <= MAX_CANDIDATES
    assert sum(c == MAX_CANDIDATES for c in compared) > LOOK_ALIKES // 2

    # the next one's candidates come from the newest PER_KEY stories of its buckets only
    at = T0 + timedelta(hours=1)
    fp = seen.item("d", LOOK_ALIKES, *rates(LOOK_ALIKES), at).fingerprint
    assert fp is not None
    with store.read() as s:
        bands = s.exec(select(StoryBand.band_key, StoryBand.story_id, StoryBand.seen_at)).all()
        conn = s.connection()
        since = bind(conn, StoryBand.__table__.c.seen_at, at - WINDOW)  # type: ignore[attr-defined]
        got = band_candidates(conn, fp.bands, since)
    by_band: dict[int, list[tuple[datetime, int]]] = {}
    for key, sid, seen_at in bands:
        by_band.setdefault(key, []).append((seen_at, sid))
    crowded = [k for k in fp.bands if len(by_band.get(k, ())) > PER_KEY]
    assert crowded  # it shares crowded buckets
    allowed = set()  # per key, the stories seen no earlier than its PER_KEY-th newest (ties)
    for k in fp.bands:
        ranked = sorted(by_band.get(k, []), reverse=True)
        if ranked:
            last = ranked[min(PER_KEY, len(ranked)) - 1][0]
            allowed |= {sid for seen_at, sid in ranked if seen_at >= last}
    assert len(got) == MAX_CANDIDATES and set(got) <= allowed


def test_uncrowded_candidates_are_those_of_a_full_count(store: Store) -> None:
    """With no bucket holding more than PER_KEY stories, the bounded read ranks exactly as a
    count of shared keys over every band row of the window (the GROUP BY it replaces)."""
    seen = Seen()
    now = T0 + timedelta(hours=1)
    texts = [rates(n) for n in range(PER_KEY // 2)]
    texts += [(f"Border item {n}", WIRE.replace("Tuesday", f"day {n} of talks")) for n in range(8)]
    items = [seen.item("a", n, title, body, now) for n, (title, body) in enumerate(texts)]
    poll(store, "a", items, now)
    with store.read() as s:
        rows = s.exec(select(StoryBand.band_key, StoryBand.story_id)).all()
    assert max(Counter(k for k, _ in rows).values()) <= PER_KEY
    probes = [rates(999), (REPRINT[:60], REPRINT), ("Border item 3", WIRE)]
    for title, body in probes:
        fp = seen.item("d", 0, title, body, now).fingerprint
        assert fp is not None
        counts = Counter(sid for k, sid in rows if k in set(fp.bands))
        expected = [sid for sid, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        with store.read() as s:
            conn = s.connection()
            since = bind(conn, StoryBand.__table__.c.seen_at, now - WINDOW)  # type: ignore[attr-defined]
            got = band_candidates(conn, fp.bands, since)
        assert expected and got == expected[:MAX_CANDIDATES]
