"""The orchestrator: one poll of one feed, top to bottom, and the stories it brings.

    fetch feed -> parse -> dedup -> match on the feed's text -> store (+ outbox)
                                               -> article pages (pages) -> re-match -> store

Stages take data and return data; only this package sequences I/O. `poll` is the poll itself,
`stories` turns its new entries into stories to store, `context` holds what every poll shares.
"""

from watcher.pipeline.context import (
    FEED_ACCEPT,
    Context,
    PollReport,
    StoreBatches,
    fetch_limits,
)
from watcher.pipeline.pages import PAGE_ACCEPT
from watcher.pipeline.poll import poll_feed

__all__ = [
    "FEED_ACCEPT",
    "PAGE_ACCEPT",
    "Context",
    "PollReport",
    "StoreBatches",
    "fetch_limits",
    "poll_feed",
]
