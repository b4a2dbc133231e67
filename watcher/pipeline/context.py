"""What one poll needs from the daemon: the config, store, fetcher, rules and worker pool, the
store calls of concurrent polls coalesced into shared transactions, and the fetch limits."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import partial

from watcher.clock import Clock
from watcher.config import Config
from watcher.errors import StoreError
from watcher.ingest.fetch import DEFAULT_USER_AGENT, Fetcher, FetchLimits
from watcher.ingest.workers import WorkerPool
from watcher.pipeline.pages import PageQueue
from watcher.rules import RuleSet
from watcher.store import Store
from watcher.store.coalesce import POLL, Coalescer, WriteTurns
from watcher.store.feeds import StateRow, feed_states
from watcher.store.stories import (
    Known,
    KnownAsk,
    PollToSave,
    known_many,
    save_polls,
)

log = logging.getLogger("watcher.poll")

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5"
)
RETRY_AFTER_CAP = 6 * 3600.0  # a server cannot silence a feed for longer than this at once
STATE_WRITE_WINDOW = 0.01  # seconds; poll outcomes arriving within it share one transaction
# Polls that brought nothing to store (a 304, an unchanged body, a failure) wait longer for
# company: no alert waits on them, and feeds polled on their own rhythm finish a few a second
# (10,000 feeds every 5 minutes: 33 a second), so a 10 ms window committed almost each alone,
# a transaction and a commit per poll (about a fifth of a 304's CPU).
STATE_ONLY_WINDOW = 0.5
STATES_PER_TRANSACTION = 500  # an UPDATE of a few columns each: a short hold still
# Bounds how long one write transaction holds the database: a poll counts 1, each new story
# in it STORY_COST more (a story's rows cost some milliseconds; a 304's state, a tenth of one).
# So 100 unchanged feeds share a transaction, and a burst's stories commit (and their alerts
# go out) some tens at a time rather than a thousand at the end of one long transaction.
POLLS_PER_TRANSACTION = 100
STORY_COST = 2


@dataclass(frozen=True)
class PollReport:
    feed: str
    status: str  # HTTP status, "unchanged", or "error"
    new: int = 0
    matched: int = 0
    error: str | None = None
    seconds: float = 0.0
    # False: the poll queued nothing to send (a 304 or an unchanged body that left the feed's
    # health as it was), so no delivery pass need follow it
    queued: bool = True


class StoreBatches:
    """The store calls of every poll in flight, coalesced: state reads, "seen before?" asks and
    poll writes made at about the same moment run as one transaction (see store.coalesce).
    One per Context and so per event loop (futures belong to the loop that awaits them); a
    reloaded Context keeps its predecessor's, since the store is the same."""

    def __init__(self, store: Store) -> None:
        # rules that notify (the newest Context's config): polls with a story matching one
        # are written first, so in a burst the stories that alert commit before those that
        # do not
        self.alerting: frozenset[str] = frozenset()
        # one write transaction at a time from this process: deliveries', then polls', then
        # article pages' (`async with writing:` takes a poll's turn)
        self.writing = WriteTurns()
        self.read: Coalescer[str, StateRow | None] = Coalescer(partial(feed_states, store))
        self.known: Coalescer[KnownAsk, Known] = Coalescer(partial(known_many, store))
        self._saves: Coalescer[PollToSave, StoreError | None] = Coalescer(
            partial(save_polls, store),
            STATE_WRITE_WINDOW,
            self.writing.turn(POLL),
            POLLS_PER_TRANSACTION,
            cost=_poll_cost,
            rank=self._rank,
        )
        self._states: Coalescer[PollToSave, StoreError | None] = Coalescer(
            partial(save_polls, store),
            STATE_ONLY_WINDOW,
            self.writing.turn(POLL),
            STATES_PER_TRANSACTION,
        )
        self._storing = 0  # writes of polls with new stories, asked for and not yet done
        self._no_stories = asyncio.Event()
        self._no_stories.set()

    async def write(self, poll: PollToSave) -> StoreError | None:
        """Store a poll's outcome, in a transaction shared with the polls written with it: one
        that brought nothing to store waits longer for company (STATE_ONLY_WINDOW)."""
        if not (poll.items or poll.updates):
            return await self._states(poll)
        if not poll.items:
            return await self._saves(poll)
        self._storing += 1
        self._no_stories.clear()
        try:
            return await self._saves(poll)
        finally:
            self._storing -= 1
            if not self._storing:
                self._no_stories.set()

    async def stories_stored(self) -> None:
        """Until no poll is waiting to store new stories (a 304's state write does not count:
        feeds keep being polled through a burst)."""
        await self._no_stories.wait()

    def _rank(self, poll: PollToSave) -> int:
        alerting = self.alerting
        return 0 if any(m.rule in alerting for i in poll.items for m in i.matches) else 1


def _poll_cost(poll: PollToSave) -> int:
    return 1 + STORY_COST * (len(poll.items) + len(poll.updates))


@dataclass(frozen=True)
class Context:
    """What a poll needs, built once per daemon (or `run --once`) inside its event loop."""

    config: Config
    store: Store
    fetcher: Fetcher
    rules: RuleSet
    clock: Clock
    pool: WorkerPool  # where parsing, extraction and matching run (worker processes)
    batches: StoreBatches = field(default=None)  # type: ignore[assignment]  # set just below
    # pages of stored stories still to read; like `batches`, kept by a reloaded Context
    pages: PageQueue = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.batches is None:
            object.__setattr__(self, "batches", StoreBatches(self.store))
        if self.pages is None:
            object.__setattr__(self, "pages", PageQueue(self.store, self.batches.writing))
        self.pages.use(self)  # the newest Context's config, rules and workers read the pages
        self.batches.alerting = frozenset(r.name for r in self.config.rules if r.notify)


def fetch_limits(config: Config) -> FetchLimits:
    p = config.polling
    return FetchLimits(
        timeout=p.timeout,
        max_bytes=p.max_bytes,
        concurrency=p.concurrency,
        per_host=p.per_host,
        allow_private_addresses=p.allow_private_addresses,
        host_gap=p.host_gap,
        user_agent=p.user_agent or DEFAULT_USER_AGENT,
    )
