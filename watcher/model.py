"""Typed records that cross layers: ingest produces them, the store saves them, notify reads them.

They live here, apart from every stage, so the store never imports the ingest stack (and with
it trafilatura, feedparser and numpy) to name the type it is handed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class NewStory:
    feed: str
    key: str
    guid: str | None
    url: str | None
    canonical_url: str | None
    title: str
    summary: str
    body: str
    body_source: str
    language: str | None
    search_text: str
    content_hash: str
    published_at: datetime | None
    first_seen_at: datetime
    title_key: str = ""  # normalised title, for "same headline" clustering
