"""A poll's new entries made into stories: which are new, their article text, prepared in the
worker pool, and the alerts each would raise once stored; changed headlines re-matched."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from watcher import metrics
from watcher.config import FeedConfig
from watcher.ingest.dedup import headline_changed, identify, strip_tracking
from watcher.ingest.parse import Entry
from watcher.ingest.prepare import FeedRef, Prepared, Skipped
from watcher.model import AlertStory
from watcher.notify.alerts import build_alerts, cluster_alerts
from watcher.pipeline.context import Context
from watcher.rules import Document
from watcher.rules.normalise import fold_text
from watcher.store.pending import PENDING
from watcher.store.stories import (
    KnownAsk,
    StoryToSave,
    UpdateToSave,
    story_bodies,
)

log = logging.getLogger("watcher.poll")


async def new_entries(
    ctx: Context, feed: FeedConfig, entries: Sequence[Entry]
) -> tuple[list[Entry], list[tuple[Entry, int]]]:
    """Entries whose identity, canonical link and content are all unseen (first of each wins),
    and entries already stored under the same key or link whose headline changed materially
    (with the stored story's id)."""
    keyed = [k for e in entries if (k := _entry_keys(feed, e)) is not None]
    seen = await ctx.batches.known(
        KnownAsk(
            feed.name,
            tuple(k for _, k, _, _ in keyed),
            tuple(u for _, _, u, _ in keyed if u),
            tuple(h for _, _, _, h in keyed),
        )
    )
    keys, urls, hashes = set(seen.keys), set(seen.urls), set(seen.hashes)
    out = []
    changed: list[tuple[Entry, int]] = []
    for entry, key, url, digest in keyed:
        if key in keys or (url and url in urls) or digest in hashes:
            stored = seen.titles.get(key) or (seen.titles.get(url) if url else None)
            if stored and headline_changed(stored[1], entry.title):
                changed.append((entry, stored[0]))
            continue
        keys.add(key)
        hashes.add(digest)
        if url:
            urls.add(url)
        out.append(entry)
    return out, changed


def _entry_keys(feed: FeedConfig, e: Entry) -> tuple[Entry, str, str | None, str] | None:
    """An item's identity, canonical link and content hash; an item they cannot be computed for
    (a malformed link, say) is skipped with a warning and its siblings go on."""
    try:
        i = e.identity or identify(e.guid, e.link, e.title, e.summary or e.content)
        return e, i.key, i.canonical_url, i.content_hash
    except Exception as exc:
        log.warning("feed %s: item %r skipped: %s: %s", feed.name, e.link, type(exc).__name__, exc)
        return None


async def rematch_headlines(
    ctx: Context, feed: FeedConfig, changed: Sequence[tuple[Entry, int]], now: datetime
) -> list[UpdateToSave]:
    """Re-match stories whose headline changed; alert only rules with `updates: true`."""
    if not changed:
        return []
    bodies = await asyncio.to_thread(story_bodies, ctx.store, [sid for _, sid in changed])
    wants = {r.name for r in ctx.config.rules if r.updates}
    out = []
    for entry, sid in changed:
        try:
            out.append(_update(ctx, feed, entry, sid, bodies.get(sid, ""), wants, now))
        except Exception as exc:
            log.warning(
                "feed %s: headline update %r skipped: %s: %s",
                feed.name,
                entry.link,
                type(exc).__name__,
                exc,
            )
    return out


def _update(
    ctx: Context,
    feed: FeedConfig,
    entry: Entry,
    sid: int,
    body: str,
    wants: set[str],
    now: datetime,
) -> UpdateToSave:
    doc = Document(
        title=entry.title, summary=entry.summary, body=body, feed=feed.name, tags=feed.tags
    )
    matches = tuple(ctx.rules.match(doc))
    story = AlertStory(
        title=entry.title,
        url=strip_tracking(entry.link) if entry.link else None,
        feed=feed.name,
        published_at=entry.published_at,
        language=None,
        summary=entry.summary,
    )
    alerts = build_alerts(
        ctx.config, story, [m for m in matches if m.rule in wants], now, kind="update"
    )
    return UpdateToSave(
        story_id=sid,
        title=entry.title,
        summary=entry.summary,
        search_text=fold_text(f"{entry.title}\n{entry.summary}\n{body}"),
        matches=matches,
        alerts=alerts,
    )


async def build(
    ctx: Context, feed: FeedConfig, entries: Sequence[Entry], now: datetime
) -> list[StoryToSave]:
    """Stories on the feed's own text, matched at once: an entry whose page is to be read is
    stored pending and its page completes it later (watcher.pipeline.pages), so no story's
    alert waits for pages, its own or those ahead of it."""
    items = [_with_text(feed, e) for e in entries]
    prepared = await ctx.pool.prepare(FeedRef(feed.name, feed.tags), items, now)
    out = []
    for p in prepared:
        if isinstance(p, Skipped):
            log.warning("feed %s: item %r skipped: %s", feed.name, p.link, p.reason)
        else:
            out.append(_story_to_save(ctx, p, now))
    return out


def _with_text(feed: FeedConfig, entry: Entry) -> tuple[Entry, str, str]:
    """The entry with the feed's content (else summary) as its body, and where that body
    stands: "pending" when the article page is to be read, else "feed"."""
    text = entry.content or entry.summary
    return entry, text, PENDING if feed.extract and entry.link else "feed"


def _story_to_save(ctx: Context, prepared: Prepared, now: datetime) -> StoryToSave:
    story = prepared.story
    metrics.record_matches([m.rule for m in prepared.matches])
    alert_story = AlertStory(
        title=story.title,
        url=story.url,
        feed=story.feed,
        published_at=story.published_at,
        language=story.language,
        summary=story.summary,
    )
    return StoryToSave(
        story=story,
        matches=prepared.matches,
        fingerprint=prepared.fingerprint,
        alerts=partial(cluster_alerts, ctx.config, alert_story, prepared.matches, now),
    )
