"""Engine and transactions.

SQLite: WAL so readers never block the writer, a busy timeout, and write transactions opened
with `BEGIN IMMEDIATE` (a deferred read-then-write transaction fails with "database is locked"
under concurrency even in WAL mode). pysqlite's own implicit BEGIN is switched off for that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Table, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InternalError, OperationalError
from sqlmodel import Session, create_engine

from watcher.errors import StoreError
from watcher.store import tables  # noqa: F401  registers the tables on the metadata

_IMMEDIATE = "watcher_immediate"
IDLE_IN_TRANSACTION_MS = 15000


class Store:
    """One process's handle on the database."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(f"database URL is not valid: {exc}") from exc
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            db = parsed.database
            if db and db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif parsed.get_backend_name() == "postgresql":
            # A process paused mid-transaction (SIGSTOP, a VM stall) would hold its row and
            # advisory locks, and stall every other process's writes, until it resumed: the
            # server ends such a session instead. No transaction here idles between statements.
            kwargs["connect_args"] = {
                "options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
            }
            # after a database restart, pooled connections are dead: test each one on checkout
            # instead of failing a poll's write (whose claim would then wait out its lease)
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        self._writer = self.engine.execution_options(**{_IMMEDIATE: True})

    def create_schema(self) -> None:
        """Bring the schema to the newest revision (tests, benchmarks, SQLite auto-upgrade)."""
        self.ensure_schema(auto_upgrade=True)

    def ensure_schema(self, auto_upgrade: bool | None = None) -> None:
        """Check the schema revision; upgrade if allowed (default: SQLite yes, PostgreSQL no)."""
        from watcher.store.migrate import ensure_schema
        from watcher.store.search import ensure_search

        try:
            ensure_schema(self, self.is_sqlite if auto_upgrade is None else auto_upgrade)
            # Migration 0002 installs search; SQLite batch migrations (which copy `stories`)
            # drop its triggers silently, so check it on every start.
            ensure_search(self.engine)
        except OperationalError as exc:
            raise StoreError(f"cannot open database: {exc.orig}") from exc

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction (IMMEDIATE on SQLite), committed on success, rolled back on error.
        The database refusing the write (full, read-only, away) is a StoreError that says which,
        since the operator, not watcher, has to fix it."""
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                yield session
        except (OperationalError, InternalError) as exc:
            error = refused_write(exc)
            if error is None:
                raise
            raise error from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read. On PostgreSQL an OperationalError is the server's or the connection's state
        (a restart, a refused connection), never the query's: a StoreError, so the poll or job
        that read says "database error" and retries, without a traceback. SQLite reports query
        mistakes (an FTS syntax error) under the same class, so there it stays as it is."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
        except OperationalError as exc:
            if self.is_sqlite:
                raise
            said = str(exc.orig).split("\n", 1)[0].strip()
            raise StoreError(f"database error: {said}") from exc

    def serialize(self, session: Session, name: str) -> None:
        """Make concurrent transactions doing `name` take turns (PostgreSQL: a transaction-level
        advisory lock; SQLite's IMMEDIATE write transactions already take turns)."""
        if not self.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(name)})

    @contextmanager
    def advisory_lock(self, name: str) -> Iterator[bool]:
        """Run a periodic job in one process only: yields whether this process got the lock
        (PostgreSQL session-level advisory lock, released on exit or when the process dies)."""
        if self.is_sqlite:
            yield True
            return
        with self.engine.connect() as conn:
            got = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(name)}
                ).scalar()
            )
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(name)})
                    conn.commit()

    def close(self) -> None:
        self.engine.dispose()


# SQLite's words (SQLITE_FULL, SQLITE_READONLY) and PostgreSQL's SQLSTATEs for the same causes.
_FULL = ("database or disk is full", "no space left on device", "could not extend file")
_READ_ONLY = ("readonly database", "read-only file system", "read-only transaction")
_PG_FULL, _PG_READ_ONLY = "53100", "25006"


def refused_write(exc: DBAPIError) -> StoreError | None:
    """What a failed write means to whoever has to fix it, or None for an error that is not the
    database refusing writes (a bug, kept as it is). SQLite rolls a transaction back on
    SQLITE_FULL, so the error raised may be a later one ("no such savepoint") with the cause in
    its context: the whole chain is read."""
    messages: list[tuple[str, str | None]] = []
    seen: BaseException | None = exc
    while seen is not None and len(messages) < 20:
        orig = getattr(seen, "orig", None) or seen
        state = getattr(orig, "sqlstate", None)
        messages.append((str(orig).split("\n", 1)[0].strip(), str(state) if state else None))
        seen = seen.__cause__ or seen.__context__
    for said, state in messages:
        if state == _PG_FULL or any(m in said.lower() for m in _FULL):
            return StoreError(
                f"the database is full: it cannot grow ({said}); free space on its disk, or "
                "raise its size limit; nothing of this write was stored and it is retried"
            )
        if state == _PG_READ_ONLY or any(m in said.lower() for m in _READ_ONLY):
            return StoreError(
                f"the database is read-only ({said}); check the permissions of the database "
                "file and its folder, and that its filesystem is mounted read-write; nothing of "
                "this write was stored and it is retried"
            )
    if isinstance(exc, OperationalError):
        return StoreError(f"database error: {messages[0][0]}")
    return None


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (hash() is salted per process)."""
    return int.from_bytes(
        hashlib.blake2b(f"watcher:{name}".encode(), digest_size=8).digest(), "big", signed=True
    )


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # 8 MB of page cache, not 2: each new story adds 42 band-key rows at random places of
        # one index, and once that index outgrows the cache every insert reads a page back
        # (bench_growth, 10,000 stored: 0.99 ms a story at 2 MB, 0.87 at 8, 0.80 at 32). Every
        # pooled connection keeps its own cache (five of them), so 32 MB would cost up to
        # 160 MB of the daemon's memory for a tenth of the speed.
        cur.execute("PRAGMA cache_size=-8192")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def insert_rows(
    conn: Connection,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    bound: bool = False,
) -> None:
    """A plain executemany for many rows of one shape (a poll's stories, their band keys): the
    same insert through SQLAlchemy's statement layer spends ~12 µs a row building parameters,
    more than the database spends storing it. Values pass through each column's bind processor
    (time zones), once per distinct value, unless the caller did it (`bound`, see `bind`)."""
    if not rows:
        return
    columns = [table.c[n] for n in names]
    dialect = conn.dialect
    # positional marks: sqlite3 takes ?, psycopg %s (with tuples, whatever its declared style)
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(c.name for c in columns)}) "
        f"VALUES ({', '.join(mark for _ in names)})"
    )
    if not bound:
        converters = [_memoized(c.type._cached_bind_processor(dialect)) for c in columns]
        rows = [tuple(f(v) for f, v in zip(converters, row, strict=True)) for row in rows]
    conn.exec_driver_sql(sql, list(rows))


def next_ids(conn: Connection, table: str, n: int) -> list[int]:
    """`n` ids of `table` no other writer can take, for rows written with their id (so that
    rows referring to them go in the same batch): PostgreSQL's sequence, or on SQLite the ids
    after the largest (what SQLite itself would assign; the write lock is held)."""
    if conn.dialect.name == "sqlite":
        top = conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").scalar_one()
        return list(range(int(top) + 1, int(top) + 1 + n))
    got = conn.exec_driver_sql(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
        (n,),
    )
    return [int(v) for (v,) in got]


def bind(conn: Connection, column: Column[Any], value: Any) -> Any:
    """`value` as the driver receives it for `column` (for `insert_rows(..., bound=True)`)."""
    process = column.type._cached_bind_processor(conn.dialect)
    return process(value) if process else value


def _memoized(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    if process is None:
        return _same
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            out = seen[value] = process(value)
            return out
        except TypeError:  # unhashable
            return process(value)

    return convert


def _same(value: Any) -> Any:
    return value
