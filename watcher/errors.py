"""The one error root of watcher, so callers catch a single type at the edges.

    WatcherError                 anything watcher raises on purpose
    ├── ConfigError              the config file is unreadable or invalid (carries every problem)
    ├── RuleError                a rule or query cannot be compiled (name, position, expectation)
    ├── FetchError               an HTTP fetch failed: network, status, deadline, size, refused host
    │   └── BlockedAddressError  the host resolves to a private/loopback/link-local address
    ├── ParseError               a feed body is not a feed we can read
    ├── WorkerError              a worker task overran its deadline or memory ceiling, or died
    └── StoreError               the database is unreachable or its schema is wrong

Stages raise these with context; the pipeline records per-feed errors and carries on; the CLI
turns them into a message and a non-zero exit code.
"""

from __future__ import annotations

from dataclasses import dataclass


class WatcherError(Exception):
    """Root of every error watcher raises deliberately."""


@dataclass(frozen=True)
class Problem:
    """One config problem: where it is and what to do about it."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(WatcherError):
    """The config cannot be used; `problems` lists every one found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class RuleError(WatcherError):
    """A rule does not compile. `position` is a 0-based offset into the query, if known."""

    def __init__(self, message: str, *, rule: str = "", position: int | None = None) -> None:
        self.rule = rule
        self.position = position
        self.detail = message
        where = f" at position {position}" if position is not None else ""
        prefix = f"rule {rule!r}: " if rule else ""
        super().__init__(f"{prefix}{message}{where}")


class FetchError(WatcherError):
    """A fetch failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(message)


class BlockedAddressError(FetchError):
    """Refused before connecting: the address is private, loopback, link-local or similar."""


class ParseError(WatcherError):
    """The body could not be read as a feed."""


class WorkerError(WatcherError):
    """A parse, extraction or preparation in a worker was abandoned: over its deadline or its
    memory ceiling, or the worker died. That feed or story fails; the worker is replaced."""


class StoreError(WatcherError):
    """The database cannot be used as asked."""
