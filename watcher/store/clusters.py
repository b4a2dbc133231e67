"""Story clusters in the database: the same story carried by several feeds or agencies.

A new story joins the cluster of an earlier one (within the window) that has the same canonical
link, the same normalised title, or a near-duplicate text (a shared LSH band key confirmed by
`watcher.neardup.same_story`). Everything runs inside the poll's write transaction,
so two processes storing the same story at once still end up in one cluster.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Column, delete, func, or_, text
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from watcher.neardup import Fingerprint, pack, same_story, unpack
from watcher.store.db import Store, bind, insert_rows
from watcher.store.matches import MAX_SOURCES
from watcher.store.tables import AlertRow, MatchRow, StoryBand, StoryRow

WINDOW = timedelta(hours=72)
MAX_CANDIDATES = 20  # stories compared with a new one, those sharing most band keys first
PER_KEY = 32  # stories read per band key, the newest first
T = TypeVar("T", str, int)
C = TypeVar("C", int, tuple[int, int])  # a candidate: a story id, or a Lookalikes rank


@dataclass(frozen=True)
class ClusterInfo:
    """What the alert decision needs to know about the cluster a new story joined."""

    cluster_id: int | None  # None: the story starts a new cluster
    sources: tuple[str, ...] = ()  # feeds of earlier members, first seen first
    size: int = 1  # distinct feeds, this story's included
    alerted_rules: frozenset[str] = frozenset()  # rules an earlier member already matched
    escalated_rules: frozenset[str] = frozenset()
    compared: int = 0  # stored stories `same_story` was asked about (at most MAX_CANDIDATES)


ClusterKeys = tuple[str | None, str, Fingerprint | None]  # canonical URL, title key, fingerprint


@dataclass
class Nearby:
    """The canonical links, title keys and band keys that stories within the window already
    have. A new story sharing none of them starts its own cluster without any of find_cluster's
    queries; one sharing a link or a title may join one, and find_cluster decides; one sharing
    band keys joins one only if `Lookalikes` finds it would."""

    urls: set[str]
    titles: set[str]
    bands: set[int]  # of stored stories
    fresh: set[int] = field(default_factory=set)  # of stories written in this transaction

    @classmethod
    def around(cls, s: Session, keys: Sequence[ClusterKeys], now: datetime) -> Nearby:
        conn = s.connection()
        stories = StoryRow.__table__  # type: ignore[attr-defined]
        bands = StoryBand.__table__  # type: ignore[attr-defined]
        story_since = bind(conn, stories.c.first_seen_at, now - WINDOW)
        band_since = bind(conn, bands.c.seen_at, now - WINDOW)
        return cls(
            urls=present(conn, stories.c.canonical_url, {u for u, _, _ in keys if u}, story_since),
            titles=present(conn, stories.c.title_key, {t for _, t, _ in keys if t}, story_since),
            bands=present(
                conn,
                bands.c.band_key,
                {b for _, _, fp in keys if fp is not None for b in fp.bands},
                band_since,
            ),
        )

    def linked(self, keys: ClusterKeys) -> bool:
        url, title, _ = keys
        return bool((url and url in self.urls) or (title and title in self.titles))

    def shares_band(self, keys: ClusterKeys) -> bool:
        fp = keys[2]
        return fp is not None and not (
            self.bands.isdisjoint(fp.bands) and self.fresh.isdisjoint(fp.bands)
        )

    def add(self, keys: ClusterKeys) -> None:
        url, title, fp = keys
        if url:
            self.urls.add(url)
        if title:
            self.titles.add(title)
        if fp is not None:
            self.fresh.update(fp.bands)


def present(conn: Connection, column: Column[Any], values: set[T], since: Any) -> set[T]:
    """Which of `values` the column holds in rows of the window (`since`, bound for the
    table's time column). The values travel as one parameter (a JSON array for SQLite, an
    array for PostgreSQL): a poll asks for ~900 band keys, and binding each as its own
    parameter cost more than the index lookups. Each value is an EXISTS, which stops at the
    first row of the window: a bucket crowded by thousands of look-alike stories costs what
    an empty one does, where a DISTINCT over the matching rows read every one of them."""
    if not values:
        return set()
    table = column.table
    stamp = table.c.first_seen_at if table.name == "stories" else table.c.seen_at
    if conn.dialect.name == "sqlite":
        sql = (
            f"SELECT v.value FROM json_each(?) AS v WHERE EXISTS (SELECT 1 FROM {table.name} "
            f"WHERE {column.name} = v.value AND {stamp.name} >= ?)"
        )
        rows = conn.exec_driver_sql(sql, (json.dumps(sorted(values)), since))
    else:
        array = "bigint[]" if isinstance(column.type, BigInteger) else "text[]"
        sql = (
            f"SELECT v FROM unnest(CAST(%s AS {array})) AS v WHERE EXISTS (SELECT 1 FROM "
            f"{table.name} WHERE {column.name} = v AND {stamp.name} >= %s)"
        )
        rows = conn.exec_driver_sql(sql, (sorted(values), since))
    return {v for (v,) in rows}


def band_candidates(conn: Connection, bands: Sequence[int], since: Any) -> list[int]:
    """The stored stories likeliest to be the same story as one with these band keys: those
    sharing the most keys, earliest first, at most MAX_CANDIDATES.

    Only the newest PER_KEY stories of each key within the window are read (a backward range
    scan of the (band_key, seen_at) index per key, all keys in one statement), and counted
    here. Counting every row that shares a key (a GROUP BY over the window) read all of a
    crowded bucket: a daily rate table or weather report in every agency feed puts thousands
    of look-alikes in the same buckets, and each new one then paid for all of them. A reprint
    or an edited copy still finds its original: it shares most of the original's bands, and
    unless the original is itself one of many look-alikes, those buckets hold a few stories and
    are read whole. Where no bucket holds more than PER_KEY stories, the answer is what the
    GROUP BY gave. `since` is bound for story_bands.seen_at."""
    return rank_candidates(bands, bucket_heads(conn, set(bands), since), since)


Buckets = dict[int, list[tuple[int, Any]]]  # band key -> (story id, seen_at as bound)


def bucket_heads(conn: Connection, keys: set[int], since: Any) -> Buckets:
    """The newest PER_KEY rows of each band key within the window (`since` bound for
    story_bands.seen_at), for any number of keys in one statement: one story's keys when it is
    clustered, or every key a whole poll's stories share with stored ones when they are checked
    together (Lookalikes)."""
    if not keys:
        return {}
    if conn.dialect.name == "sqlite":
        sql = (
            "SELECT v.value, b.story_id, b.seen_at FROM json_each(?) AS v JOIN story_bands AS b "
            "ON b.id IN (SELECT id FROM story_bands WHERE band_key = v.value AND seen_at >= ? "
            "ORDER BY seen_at DESC LIMIT ?)"
        )
        result = conn.exec_driver_sql(sql, (json.dumps(sorted(keys)), since, PER_KEY))
    else:
        sql = (
            "SELECT k, b.story_id, b.seen_at FROM unnest(CAST(%s AS bigint[])) AS k CROSS JOIN "
            "LATERAL (SELECT story_id, seen_at FROM story_bands WHERE band_key = k AND "
            "seen_at >= %s ORDER BY seen_at DESC LIMIT %s) AS b"
        )
        result = conn.exec_driver_sql(sql, (sorted(keys), since, PER_KEY))
    out: Buckets = {}
    # the driver's rows as they are: a crowded window reads thousands, and SQLAlchemy's Row
    # objects cost more than the index reads
    for key, sid, seen in result.cursor.fetchall():
        out.setdefault(int(key), []).append((int(sid), seen))
    return out


def rank_candidates(bands: Sequence[int], buckets: Buckets, since: Any) -> list[int]:
    """Stories of `buckets` seen since `since` (bound), counted by the keys of `bands` they
    share: the most first, then the earliest id, at most MAX_CANDIDATES. Buckets read with an
    earlier `since` give the same answer: the rows of a later window are a prefix of each."""
    return most_shared(
        Counter(sid for k in bands for sid, seen in buckets.get(k, ()) if seen >= since)
    )


def most_shared(shared: Counter[C]) -> list[C]:
    """The candidates sharing the most keys, the earliest (smallest) first among equals, at
    most MAX_CANDIDATES."""
    return [c for c, _ in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))][:MAX_CANDIDATES]


def find_cluster(
    s: Session,
    feed: str,
    canonical_url: str | None,
    title_key: str,
    fp: Fingerprint | None,
    now: datetime,
) -> ClusterInfo:
    since = now - WINDOW
    conds = []
    if canonical_url:
        conds.append(col(StoryRow.canonical_url) == canonical_url)
    if title_key:
        conds.append(col(StoryRow.title_key) == title_key)
    cluster: int | None = None
    compared = 0
    if conds:
        row = s.exec(
            select(StoryRow.id, StoryRow.cluster_id)
            .where(or_(*conds), col(StoryRow.first_seen_at) >= since)
            .order_by(col(StoryRow.id))
            .limit(1)
        ).first()
        if row is not None:
            cluster = row[1] or row[0]
    if cluster is None and fp is not None and fp.bands:
        # The stories sharing the most band keys are the likeliest reprints; a bounded number of
        # them is read and compared, so a feed of near-identical templated items cannot make
        # each new story pay for every earlier one.
        conn = s.connection()
        bands = StoryBand.__table__  # type: ignore[attr-defined]
        ids = band_candidates(conn, fp.bands, bind(conn, bands.c.seen_at, since))
        candidates = signatures(conn, ids)
        same, compared = first_same(fp, candidates)
        if same is not None:
            sid, cid, _, _ = candidates[same]
            cluster = cid or sid
    if cluster is None:
        return ClusterInfo(cluster_id=None, compared=compared)
    return replace(cluster_state(s, cluster, feed), compared=compared)


def signatures(conn: Connection, ids: Sequence[int]) -> list[Candidate]:
    """(id, cluster id, packed signature, title key) of stories `ids`, in the order given. The
    ids travel as one parameter, as in `present`: a statement with an IN list cost three times
    the lookups it made."""
    if not ids:
        return []
    cols = "SELECT id, cluster_id, signature, title_key FROM stories"
    if conn.dialect.name == "sqlite":
        sql = f"{cols} WHERE id IN (SELECT value FROM json_each(?))"
        result = conn.exec_driver_sql(sql, (json.dumps(list(ids)),))
    else:
        result = conn.exec_driver_sql(f"{cols} WHERE id = ANY(%s)", (list(ids),))
    rows = result.cursor.fetchall()
    order = {sid: i for i, sid in enumerate(ids)}
    return sorted(((r[0], r[1], r[2], r[3]) for r in rows), key=lambda r: order.get(r[0], 0))


Candidate = tuple[int, int | None, bytes | None, str | None]  # id, cluster, signature, title key


Rank = tuple[int, int]  # (0, story id) stored, (1, n) the nth story this transaction wrote


@dataclass
class Lookalikes:
    """The band-key candidates of a transaction's new stories, as find_cluster would find them
    story by story: the stored buckets read once for the whole transaction, then the stories
    the transaction writes, kept here as they are written. A story that would join one of them
    takes the careful path; the rest (distinct stories share a band key by chance often: most
    of a cold start's stories did) are written in the batch, with the number of stories they
    were compared with. Asked one by one, each in a savepoint of its own, those chance
    collisions were most of the cost of storing a first cycle."""

    conn: Connection | None
    stored: dict[int, list[tuple[Any, Rank]]]  # per band key, its newest PER_KEY, newest first
    written: dict[int, list[tuple[Any, Rank]]] = field(default_factory=dict)  # the same, ours
    found: dict[Rank, Candidate] = field(default_factory=dict)  # signatures read or written
    clusters: dict[Rank, int] = field(default_factory=dict)  # of the written, once written
    count: int = 0  # stories written

    @classmethod
    def read(cls, conn: Connection, keys: set[int], since: Any) -> Lookalikes:
        """`keys`: the stored band keys the new stories have; `since`: the earliest window start
        of their polls, bound for story_bands.seen_at. Signatures are read only for the stories
        that come to be compared (a crowded window holds thousands in its buckets)."""
        stored = {
            key: sorted(((seen, (0, sid)) for sid, seen in rows), key=itemgetter(0), reverse=True)
            for key, rows in bucket_heads(conn, keys, since).items()
        }
        return cls(conn, stored)

    def decide(self, fp: Fingerprint, since: Any) -> tuple[Rank | None, int]:
        """Which stored or written story `fp` (a story of a poll whose window starts at `since`)
        joins through its band keys, if any, and how many it compares. Per key the newest
        PER_KEY rows count, the written before the stored among equal times (they are inserted
        after them, and the index is read backwards); then those sharing the most keys, the
        earliest first, as band_candidates ranks them."""
        shared: Counter[Rank] = Counter()
        for key in fp.bands:
            rows = self.written.get(key, []) + self.stored.get(key, [])
            if not rows:
                continue
            rows.sort(key=itemgetter(0), reverse=True)  # stable: equal times keep that order
            shared.update(rank for _, rank in [r for r in rows if r[0] >= since][:PER_KEY])
        best = most_shared(shared)
        missing = [sid for kind, sid in best if kind == 0 and (kind, sid) not in self.found]
        if missing and self.conn is not None:
            self.found.update(((0, c[0]), c) for c in signatures(self.conn, missing))
        ranks = [r for r in best if r in self.found]
        same, compared = first_same(fp, [self.found[r] for r in ranks])
        return (ranks[same] if same is not None else None), compared

    def add(self, fp: Fingerprint, title_key: str, seen: Any) -> Rank:
        """A story this transaction writes (`seen` bound for story_bands.seen_at); its rank, by
        which `clusters` will know its cluster once it is written. Each key keeps only its
        newest PER_KEY written rows: an older one can never be among a key's newest PER_KEY
        again, and a crowded bucket then costs what a small one does."""
        self.count += 1
        rank = (1, self.count)
        self.found[rank] = (0, None, pack(fp.signature), title_key)
        for key in fp.bands:
            rows = self.written.setdefault(key, [])
            rows.insert(0, (seen, rank))  # the latest written first among equal times
            if len(rows) > 1 and rows[1][0] > seen:
                rows.sort(key=itemgetter(0), reverse=True)
            del rows[PER_KEY:]
        return rank

    def cluster_of(self, rank: Rank) -> int | None:
        """The cluster of a stored story, or of a written one once it is in the database
        (None: not known, as for a story another process stored first)."""
        if rank[0] == 1:
            return self.clusters.get(rank)
        sid, cid, _, _ = self.found[rank]
        return cid or sid


def first_same(fp: Fingerprint, candidates: Sequence[Candidate]) -> tuple[int | None, int]:
    """Which of the candidates (its index) is the first that is the same story as `fp`, and
    how many were compared (candidates without a signature are not)."""
    compared = 0
    for i, (_, _, sig, tkey) in enumerate(candidates):
        # bands are not needed to compare, and recomputing them costs ~60 µs a candidate
        if not sig:
            continue
        compared += 1
        if same_story(fp, Fingerprint(unpack(sig), (), tkey or "")):
            return i, compared
    return None, compared


def cluster_state(s: Session, cluster: int, feed: str) -> ClusterInfo:
    """Cluster `cluster` as a story from `feed` joining it sees it: the other feeds that carried
    it, the rules its members matched and the escalations already sent."""
    firsts = (
        select(StoryRow.feed, func.min(StoryRow.id).label("first"))
        .where(StoryRow.cluster_id == cluster)
        .group_by(col(StoryRow.feed))
        .order_by(text("first"))
        .limit(MAX_SOURCES)
    )
    sources = tuple(f for f, _ in s.exec(firsts).all() if f != feed)
    rules = s.exec(
        select(MatchRow.rule)
        .join(StoryRow, col(StoryRow.id) == col(MatchRow.story_id))
        .where(StoryRow.cluster_id == cluster)
        .distinct()
    ).all()
    escalations = s.exec(
        select(AlertRow.context)
        .join(StoryRow, col(StoryRow.id) == col(AlertRow.story_id))
        .where(StoryRow.cluster_id == cluster, AlertRow.kind == "escalation")
    ).all()
    escalated = {r["name"] for ctx in escalations for r in json.loads(ctx).get("rules", [])}
    return ClusterInfo(
        cluster_id=cluster,
        sources=sources,
        size=len(sources) + 1,
        alerted_rules=frozenset(rules),
        escalated_rules=frozenset(escalated),
    )


def index_stories(
    conn: Connection, stories: Sequence[tuple[int, Fingerprint | None]], now: datetime
) -> None:
    """One row per band key of each (story id, fingerprint), in one executemany and in key
    order: index pages are then visited once each, not at random (42 ORM objects a story cost
    more than the rest of the story's storage)."""
    table = StoryBand.__table__  # type: ignore[attr-defined]
    seen = bind(conn, table.c.seen_at, now)
    rows = sorted(
        ((sid, k, seen) for sid, fp in stories if fp is not None for k in fp.bands),
        key=itemgetter(1),
    )
    insert_rows(conn, table, ["story_id", "band_key", "seen_at"], rows, bound=True)


def prune_bands(store: Store, now: datetime, batch: int = 5000) -> int:
    """Band rows of stories first seen before the window can never be candidates again."""
    removed = 0
    while True:
        with store.write() as s:
            ids = s.exec(
                select(StoryBand.id).where(col(StoryBand.seen_at) < now - WINDOW).limit(batch)
            ).all()
            if not ids:
                return removed
            s.execute(delete(StoryBand).where(col(StoryBand.id).in_(list(ids))))
            removed += len(ids)
