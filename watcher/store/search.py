"""Full-text search over stored stories: the index DDL and the ranked, verified search.

The index is over `stories.search_text` only (already folded like the rule matcher):

- SQLite: an FTS5 external-content table (the text is not stored twice), kept in step by
  triggers. Batch-mode migrations on SQLite copy and drop `stories`, which silently drops its
  triggers, so `install_search` recreates whatever is missing and rebuilds the index then;
  it is cheap to call on every start.
- PostgreSQL: a stored generated column `search_vector` = to_tsvector('simple', ...) with a
  GIN index ('simple': no stemming or stop words, the text is already folded). Not an
  expression index: ranking and phrase rechecks would re-parse every matching story's text,
  measured at 10-30 s for a common word over 20,000 stories against 0.2-0.5 s with the stored
  vector. The price is disk: about 7 KB per story with a 3.5 KB body (the expression index
  cost under 2 KB). The column is outside the SQLModel model (SQLite has no to_tsvector), so inserts
  never name it. The text is capped at PG_TEXT_CAP characters because a tsvector over 1 MB
  is an error, which would fail the poll's insert.

Ranking: the engine finds and orders candidates (bm25 on SQLite, ts_rank on PostgreSQL); the
search's RuleSet verifies each one and scores it the way alerts are scored (a term in the
title 3, summary 2, body 1), which the single folded column cannot tell the engine. Results
are ordered by that score, then engine rank, then newest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    column,
    func,
    literal_column,
    select,
    table,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from watcher.errors import StoreError
from watcher.rules import Document, normalise_text
from watcher.rules.fulltext import SearchQuery, SearchResult
from watcher.store.tables import StoryRow

if TYPE_CHECKING:  # db imports this module when it opens the schema
    from watcher.store.db import Store

log = logging.getLogger("watcher.rules.fulltext")

FTS_TABLE = "stories_fts"
PG_INDEX = "ix_stories_search"
PG_TEXT_CAP = 250_000
"""Characters of search_text indexed on PostgreSQL: the worst case (all distinct 3-letter
words) gives a tsvector about 3x the text, under the 1 MB limit; positions stop at 16,383
anyway."""
PG_COLUMN = "search_vector"
_PG_LOCK = 7_412_690_301  # advisory lock: one process at a time builds the index
_PG_VECTOR = f"to_tsvector('simple'::regconfig, left(search_text, {PG_TEXT_CAP}))"

_TRIGGERS = {
    f"{FTS_TABLE}_ai": f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON stories BEGIN
        INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    f"{FTS_TABLE}_ad": f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON stories BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text)
            VALUES ('delete', old.id, old.search_text);
    END""",
    f"{FTS_TABLE}_au": f"""CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au
    AFTER UPDATE OF search_text ON stories BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text)
            VALUES ('delete', old.id, old.search_text);
        INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
}

WINDOW = 200
"""Candidates fetched per round (at least twice the limit): the engine's best ones are then
re-ordered by the matcher's score. Rounds continue while the matcher rejects candidates, until
`limit` results are verified or MAX_SCAN candidates were examined."""
MAX_SCAN = 5_000


def install_search(conn: Connection) -> None:
    """Create the search index if it is missing and fill it from the stored stories.

    Idempotent, for start-up; migration 0002 holds its own frozen copy of this DDL. Stories
    stored with an empty `search_text` get it computed first.
    """
    if conn.dialect.name == "sqlite":
        _install_sqlite(conn)
    elif conn.dialect.name == "postgresql":
        _install_postgresql(conn)


def drop_search(conn: Connection) -> None:
    """Remove the search index (tests of the start-up repair); stories keep their search_text."""
    if conn.dialect.name == "sqlite":
        for name in _TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")
        conn.exec_driver_sql(f"ALTER TABLE stories DROP COLUMN IF EXISTS {PG_COLUMN}")


def ensure_search(engine: Engine) -> None:
    """install_search in its own transaction."""
    with engine.begin() as conn:
        install_search(conn)


def _install_sqlite(conn: Connection) -> None:
    names = {
        r[0]
        for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"
        )
    }
    if "stories" not in names:
        return
    created = FTS_TABLE not in names
    if created:
        backfill_search_text(conn)
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(search_text, "
            "content='stories', content_rowid='id', tokenize='unicode61')"
        )
    missing = [name for name in _TRIGGERS if name not in names]
    for name in missing:
        conn.exec_driver_sql(_TRIGGERS[name])
    if created or missing:
        _log_build(conn)
        conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def _install_postgresql(conn: Connection) -> None:
    state = _pg_state(conn)
    if not state[0] or all(state):
        return  # no schema yet, or installed: the common cases take no lock
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(key)s)", {"key": _PG_LOCK})
    table, index, column = _pg_state(conn)  # another process may have done it meanwhile
    if not table or (index and column):
        return
    if not column:
        backfill_search_text(conn)
        _log_build(conn)
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {PG_INDEX}")  # an index on older text
        conn.exec_driver_sql(
            f"ALTER TABLE stories ADD COLUMN IF NOT EXISTS {PG_COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({_PG_VECTOR}) STORED"
        )
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON stories USING gin ({PG_COLUMN})"
    )


def _pg_state(conn: Connection) -> tuple[bool, bool, bool]:
    """Whether the stories table, the search index and the search column exist."""
    found = conn.exec_driver_sql(
        "SELECT to_regclass('stories') IS NOT NULL, to_regclass(%(index)s) IS NOT NULL, "
        "EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = 'stories' AND column_name = %(column)s)",
        {"index": PG_INDEX, "column": PG_COLUMN},
    ).one()
    return bool(found[0]), bool(found[1]), bool(found[2])


def _log_build(conn: Connection) -> None:
    """Say so when the build has stories to read: on a big database it takes a while."""
    if conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM stories)").scalar():
        log.info("building the search index over the stored stories")


def backfill_search_text(conn: Connection, batch: int = 500) -> int:
    """Fold title, summary and body into search_text where it is empty, as the pipeline does
    for new stories; returns how many rows were filled."""
    filled, last = 0, 0
    while True:
        rows = conn.execute(
            select(col(StoryRow.id), col(StoryRow.title), col(StoryRow.summary), col(StoryRow.body))
            .where(col(StoryRow.search_text) == "", col(StoryRow.id) > last)
            .order_by(col(StoryRow.id))
            .limit(batch)
        ).all()
        for sid, title, summary, body in rows:
            folded = normalise_text(f"{title}\n{summary}\n{body}")
            if folded:
                conn.execute(
                    update(StoryRow).where(col(StoryRow.id) == sid).values(search_text=folded)
                )
                filled += 1
        if len(rows) < batch:
            return filled
        last = int(rows[-1][0] or 0)


# -- searching -----------------------------------------------------------------------------


def search(
    store: Store,
    query: SearchQuery,
    *,
    since: datetime | None = None,
    feeds: Sequence[str] = (),
    limit: int = 20,
) -> list[SearchResult]:
    """The best `limit` stories for `query`, verified by the matcher, best first."""
    found: list[SearchResult] = []
    offset, window = 0, max(WINDOW, 2 * limit)
    try:
        while offset < MAX_SCAN and len(found) < limit:
            batch = _candidates(store, query, since, feeds, window, offset)
            found.extend(_verified(store, query, batch))
            offset += len(batch)
            if len(batch) < window:
                break
    except DBAPIError as exc:
        raise StoreError(f"search failed: {exc.orig}") from exc
    found.sort(key=lambda r: (-r.score, -r.rank, -r.first_seen_at.timestamp(), -r.id))
    return found[:limit]


def _candidates(
    store: Store,
    query: SearchQuery,
    since: datetime | None,
    feeds: Sequence[str],
    limit: int,
    offset: int,
) -> list[tuple[int, float]]:
    """(story id, engine rank) in the engine's order."""
    q = candidate_query(store.is_sqlite, query, since, feeds).limit(limit).offset(offset)
    with store.read() as s:
        return [(int(i), float(r)) for i, r in s.execute(q).all()]


def candidate_query(
    sqlite: bool, query: SearchQuery, since: datetime | None, feeds: Sequence[str]
) -> Select[int | None, Any]:
    """The engine's statement: story ids and rank (higher is better), best first."""
    if sqlite:
        fts = table(FTS_TABLE, column("rowid"))
        rank: Any = -func.bm25(literal_column(FTS_TABLE))
        q = select(col(StoryRow.id), rank).select_from(
            fts.join(StoryRow, fts.c.rowid == col(StoryRow.id))
        )
        q = q.where(literal_column(FTS_TABLE).op("MATCH")(query.fts5))
    else:
        tsq = func.to_tsquery(literal_column("'simple'::regconfig"), query.tsquery)
        vector: Any = literal_column(PG_COLUMN)
        rank = func.ts_rank(vector, tsq)
        q = select(col(StoryRow.id), rank).where(vector.op("@@")(tsq))
    if since is not None:
        q = q.where(col(StoryRow.first_seen_at) >= since)
    if feeds:
        q = q.where(col(StoryRow.feed).in_(list(feeds)))
    return q.order_by(rank.desc(), col(StoryRow.id).desc())


def _verified(
    store: Store, query: SearchQuery, candidates: list[tuple[int, float]]
) -> list[SearchResult]:
    if not candidates:
        return []
    ranks = dict(candidates)
    with store.read() as s:
        rows = s.execute(select(StoryRow).where(col(StoryRow.id).in_(list(ranks)))).scalars().all()
    out = []
    for row in rows:
        assert row.id is not None
        doc = Document(title=row.title, summary=row.summary, body=row.body, feed=row.feed)
        match = query.verify(doc)
        if match is None:
            continue
        out.append(
            SearchResult(
                id=row.id,
                feed=row.feed,
                title=row.title,
                url=row.url,
                language=row.language,
                published_at=row.published_at,
                first_seen_at=row.first_seen_at,
                score=match.score,
                rank=ranks[row.id],
                terms=match.terms,
                hits=match.hits,
            )
        )
    return out
