"""Storage: SQLModel tables on SQLite (WAL) or PostgreSQL, and the operations the pipeline needs."""

from watcher.store.db import Store
from watcher.store.feeds import FeedUpdate, all_feed_states, due_feeds, feed_state, sync_feeds
from watcher.store.matches import (
    StoredMatch,
    StoredStory,
    iter_stories,
    list_matches,
    matched_pairs,
)
from watcher.store.outbox import DueDelivery, due_deliveries, mark_failed, mark_sent, pending_count
from watcher.store.stories import Known, NewStory, OutboxAlert, StoryToSave, known, save_poll

__all__ = [
    "DueDelivery",
    "FeedUpdate",
    "Known",
    "NewStory",
    "OutboxAlert",
    "Store",
    "StoredMatch",
    "StoredStory",
    "StoryToSave",
    "all_feed_states",
    "due_deliveries",
    "due_feeds",
    "feed_state",
    "iter_stories",
    "known",
    "list_matches",
    "mark_failed",
    "mark_sent",
    "matched_pairs",
    "pending_count",
    "save_poll",
    "sync_feeds",
]
