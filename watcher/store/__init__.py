"""Storage: SQLModel tables on SQLite (WAL) or PostgreSQL, and the operations the pipeline needs."""

from watcher.prepare import NewStory
from watcher.store.db import Store
from watcher.store.feeds import FeedUpdate, all_feed_states, due_feeds, feed_state, sync_feeds
from watcher.store.matches import (
    StoredMatch,
    StoredStory,
    iter_stories,
    list_matches,
    matched_pairs,
)
from watcher.store.outbox import Claimed, DeliveryInfo, OutboxAlert
from watcher.store.stories import Known, StoryToSave, save_poll

__all__ = [
    "Claimed",
    "DeliveryInfo",
    "FeedUpdate",
    "Known",
    "NewStory",
    "OutboxAlert",
    "Store",
    "StoredMatch",
    "StoredStory",
    "StoryToSave",
    "all_feed_states",
    "due_feeds",
    "feed_state",
    "iter_stories",
    "list_matches",
    "matched_pairs",
    "save_poll",
    "sync_feeds",
]
