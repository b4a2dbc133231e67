"""Storage: SQLModel tables on SQLite (WAL) or PostgreSQL, and the operations the pipeline needs.

This package imports nothing from ingest, notify or the daemon. Its top level re-exports only the
light read side, so read-only commands that open the database load no write-path code (the
write path, `store.stories` and `store.clusters`, needs numpy for fingerprints): the pipeline
imports those modules by name.
"""

from watcher.store.db import Store
from watcher.store.feeds import FeedUpdate, all_feed_states, feed_state, sync_feeds
from watcher.store.matches import (
    StoredMatch,
    StoredStory,
    iter_stories,
    list_matches,
    matched_pairs,
)
from watcher.store.outbox import Claimed, DeliveryInfo, OutboxAlert

__all__ = [
    "Claimed",
    "DeliveryInfo",
    "FeedUpdate",
    "OutboxAlert",
    "Store",
    "StoredMatch",
    "StoredStory",
    "all_feed_states",
    "feed_state",
    "iter_stories",
    "list_matches",
    "matched_pairs",
    "sync_feeds",
]
