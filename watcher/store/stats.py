"""`watcher db stats`: row counts per table and the database's size on disk.

Sizes are what an operator pays for: on SQLite the main file's pages plus the WAL (which can
grow large between checkpoints), on PostgreSQL pg_database_size plus each table's total size
(with its indexes and TOAST). Counts are exact (count(*)), so on a big PostgreSQL database
the command takes as long as a scan of each table.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import func, inspect, select, table, text
from sqlmodel import SQLModel

from watcher.store.db import Store


def db_stats(store: Store) -> dict[str, Any]:
    """{backend, database, tables: {name: rows}, size_bytes, and per backend:
    SQLite main_bytes/wal_bytes, PostgreSQL table_bytes: {name: bytes}}. The database is
    named without credentials."""
    url = store.engine.url
    present = set(inspect(store.engine).get_table_names())
    names = [t.name for t in SQLModel.metadata.sorted_tables if t.name in present]
    out: dict[str, Any] = {
        "backend": "sqlite" if store.is_sqlite else url.get_backend_name(),
        "database": url.database or "",
        "tables": {},
    }
    with store.engine.connect() as conn:
        for name in sorted(names):
            count = conn.execute(select(func.count()).select_from(table(name))).scalar_one()
            out["tables"][name] = int(count)
        if store.is_sqlite:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            main = int(pages) * int(page_size)
            wal = _file_size(f"{url.database}-wal") if url.database else 0
            out.update(main_bytes=main, wal_bytes=wal, size_bytes=main + wal)
        else:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            out["size_bytes"] = int(size)
            out["table_bytes"] = {
                name: int(
                    conn.execute(
                        text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": name}
                    ).scalar_one()
                )
                for name in sorted(names)
            }
    return out


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def render_stats(stats: dict[str, Any]) -> str:
    """The text `watcher db stats` prints."""
    lines = [f"database  {stats['backend']}  {stats['database']}"]
    size = f"size      {human_bytes(stats['size_bytes'])}"
    if "wal_bytes" in stats:
        size += f" (main {human_bytes(stats['main_bytes'])}, WAL {human_bytes(stats['wal_bytes'])})"
    lines += [size, ""]
    table_bytes: dict[str, int] = stats.get("table_bytes", {})
    width = max((len(n) for n in stats["tables"]), default=5)
    header = f"{'table':<{width}}  {'rows':>12}" + ("  size" if table_bytes else "")
    lines.append(header)
    for name, rows in stats["tables"].items():
        line = f"{name:<{width}}  {rows:>12,}"
        if name in table_bytes:
            line += f"  {human_bytes(table_bytes[name])}"
        lines.append(line)
    return "\n".join(lines)


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
