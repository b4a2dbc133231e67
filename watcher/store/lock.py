"""One daemon per SQLite file: a second `watcher run` on the same file is refused.

SQLite serialises writers, but two daemons would poll every feed twice and race each other's
deliveries; several processes are what PostgreSQL is for. The lock is an OS file lock, so it
disappears with the process however it dies (kill -9 included).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from watcher.errors import StoreError


class ProcessLock:
    """Held for the daemon's lifetime; a no-op for non-SQLite or in-memory databases."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        db = parsed.database if parsed.get_backend_name() == "sqlite" else None
        self.path = Path(db + ".lock") if db and db != ":memory:" else None
        self._fh: IO[str] | None = None

    def __enter__(self) -> ProcessLock:
        if self.path is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StoreError(
                f"another watcher ({holder}) is already running on {self.path.with_suffix('')}; "
                "stop it first, or use PostgreSQL to run several processes"
            ) from None
        fh.truncate(0)
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
