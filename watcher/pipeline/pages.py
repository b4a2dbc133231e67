"""Article pages of stories already stored and alerted on the feed's own text: fetched,
extracted, matched and written into their stories, oldest first, without holding up a poll.

A poll stores a new story of a feed that extracts pages at once, matched on its title and
summary, and marked pending (watcher.store.pending); this queue then reads its page. So in a
news burst a story whose headline matches is alerted as soon as its poll is stored, and one
that matches only in its article follows as the backlog of pages allows. Bounds: at most
PAGES_IN_HAND stories are being read at once, one per feed (the fetcher's per-host limits
apply within); pages take at most half of the fetcher's `concurrency`, so a poll's feed
request does not queue behind them; and at most one extraction per worker process is in the
pool, so a poll's parsing and matching wait for at most one page's extraction, never for a
burst's. Headlines go first at the database too: a page's write takes its turn after every
delivery's and poll's write waiting (store.coalesce.WriteTurns), a few pages a transaction, and
no page is extracted while polls are storing new stories. Stories are taken by id, oldest
first; a stopped process leaves the rest pending in the database, and the next start (or
`run --once`) resumes them.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from watcher import metrics
from watcher.errors import FetchError, WatcherError
from watcher.ingest.fetch import status_error
from watcher.ingest.prepare import FeedRef
from watcher.model import AlertStory
from watcher.notify.alerts import body_alerts
from watcher.store.coalesce import PAGE, Coalescer, WriteTurns
from watcher.store.db import Store
from watcher.store.pending import (
    BodySaved,
    BodyToSave,
    PendingStory,
    give_up,
    pending_stories,
    save_bodies,
)

if TYPE_CHECKING:
    from watcher.pipeline.context import Context

log = logging.getLogger("watcher.pages")

PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
PAGES_IN_HAND = 64  # stories between "page requested" and "stored", at most
WRITE_WINDOW = 0.01  # seconds; completions arriving within it share one transaction
# A page's write costs tens of milliseconds (its text indexed, its cluster and alerts decided
# again): a few per transaction, so a poll's or a delivery's write waiting for its turn waits
# a fraction of a second, not seconds.
WRITES_PER_TRANSACTION = 8


class PageQueue:
    """The stories whose page is still to be read, and the tasks reading them. One per store
    and event loop; a reloaded Context hands it its new config, rules and workers (`use`).

    Oldest first, one page per feed at a time: a burst's pages sit on a few hundred hosts, and
    taking them strictly by age would put one host's ten pages in flight together, to wait
    for its per-host slots and gap while other hosts idle. So the next page is the oldest of
    the feeds with none in flight (a feed's pages are nearly always on its own host)."""

    def __init__(self, store: Store, turns: WriteTurns) -> None:
        self._ctx: Context | None = None
        self._waiting: dict[str, deque[int]] = {}  # feed -> its stories, oldest first
        self._ready: list[tuple[int, str]] = []  # (oldest story, feed) of feeds not in flight
        self._queued: set[int] = set()
        self._running: dict[asyncio.Task[None], str] = {}
        self._stopped = False
        self._extracting: asyncio.Semaphore | None = None
        self._fetching: asyncio.Semaphore | None = None
        self._read: Coalescer[int, PendingStory | None] = Coalescer(partial(pending_stories, store))
        self._write: Coalescer[BodyToSave, BodySaved | None] = Coalescer(
            partial(save_bodies, store), WRITE_WINDOW, turns.turn(PAGE), WRITES_PER_TRANSACTION
        )
        # stories whose first match came with their page, by feed (for `run --once`'s summary)
        self.matched: Counter[str] = Counter()
        self.on_alerts: Callable[[], None] | None = None  # the daemon's "deliver now"

    def use(self, ctx: Context) -> None:
        self._ctx = ctx

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, stories: Iterable[tuple[int, str]]) -> None:
        """Queue (story id, feed) pairs."""
        for sid, feed in sorted(stories):
            if sid in self._queued:
                continue
            self._queued.add(sid)
            waiting = self._waiting.setdefault(feed, deque())
            if not waiting and feed not in self._running.values():
                heapq.heappush(self._ready, (sid, feed))
            waiting.append(sid)
        self._pump()

    async def drain(self) -> None:
        """Until every story queued (and those their completion queues) is complete."""
        while self._queued:
            self._pump()
            if not self._running:
                return  # stopped
            await asyncio.wait(set(self._running))

    def hold(self) -> set[asyncio.Task[None]]:
        """Read no more pages (stopping); returns those in hand, for the shutdown grace. What
        is not read stays pending, for the next start."""
        self._stopped = True
        return set(self._running)

    def _pump(self) -> None:
        while not self._stopped and self._ready and len(self._running) < PAGES_IN_HAND:
            sid, feed = heapq.heappop(self._ready)
            self._waiting[feed].popleft()
            task = asyncio.create_task(self._complete(sid), name=f"page:{sid}")
            self._running[task] = feed
            task.add_done_callback(partial(self._done, sid))

    def _done(self, sid: int, task: asyncio.Task[None]) -> None:
        feed = self._running.pop(task)
        self._queued.discard(sid)
        waiting = self._waiting.get(feed)
        if waiting:
            heapq.heappush(self._ready, (waiting[0], feed))
        elif waiting is not None:
            del self._waiting[feed]
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("story %d: reading its page failed", sid, exc_info=exc)
        self._pump()

    async def _complete(self, sid: int) -> None:
        story = await self._read(sid)
        ctx = self._ctx
        if story is None or ctx is None:
            return
        feed = ctx.config.feed(story.feed)
        body, origin = story.body, "feed"
        if feed is not None and feed.extract and story.url:
            text = await self._page_text(story.feed, story.url)
            if text is not None:
                body, origin = text, "page"
        ctx = self._ctx or ctx  # the config may have been reloaded meanwhile
        source = FeedRef(story.feed, feed.tags if feed is not None else ())
        try:
            done = await ctx.pool.complete(source, story.title, story.summary, body, origin)
        except WatcherError as exc:
            log.warning("story %d: its page's text could not be matched (%s)", sid, exc)
            await asyncio.to_thread(give_up, ctx.store, sid)
            return
        now = ctx.clock()
        alert_story = AlertStory(
            title=story.title,
            url=story.url,
            feed=story.feed,
            published_at=story.published_at,
            language=done.language,
            summary=story.summary,
        )
        saved = await self._write(
            BodyToSave(
                story_id=sid,
                body=done.body,
                body_source=done.body_source,
                language=done.language,
                search_text=done.search_text,
                matches=done.matches,
                fingerprint=done.fingerprint,
                alerts=partial(body_alerts, ctx.config, alert_story, done.matches, now),
                now=now,
            )
        )
        if saved is None:
            return
        metrics.record_matches(list(saved.new_rules))
        if saved.first_match:
            self.matched[story.feed] += 1
        if saved.alerts and self.on_alerts is not None:
            self.on_alerts()

    async def _page_text(self, feed: str, url: str) -> str | None:
        """The article's text from its page; None when it cannot be had (the story keeps the
        feed's text)."""
        ctx = self._ctx
        assert ctx is not None
        if self._fetching is None:
            self._fetching = asyncio.Semaphore(max(1, ctx.config.polling.concurrency // 2))
        try:
            async with self._fetching:
                page = await ctx.fetcher.get(url, accept=PAGE_ACCEPT)
            if page.status >= 400:
                raise status_error(page)
        except FetchError as exc:
            log.debug("page feed=%s url=%s not fetched: %s; using the feed's text", feed, url, exc)
            metrics.EXTRACTION_FAILURES.labels(outcome="fetch").inc()
            return None
        except Exception as exc:
            log.warning("feed %s: page %r not fetched (%r); using the feed's text", feed, url, exc)
            return None
        if self._extracting is None:
            self._extracting = asyncio.Semaphore(max(1, ctx.pool.size))
        # polls storing new stories go first: their headlines' alerts wait on the workers'
        # CPU and on the database, and this page's write would wait for theirs anyway
        await ctx.batches.stories_stored()
        try:
            async with self._extracting:
                extracted = await (self._ctx or ctx).pool.extract(page.body, page.url)
        except Exception as exc:  # over its deadline or memory ceiling, or a bug: this story only
            log.warning(
                "feed %s: page %s not extracted (%s); using the feed's text", feed, url, exc
            )
            return None
        if extracted is None:
            metrics.EXTRACTION_FAILURES.labels(outcome="extract").inc()
            return None
        return extracted.text
