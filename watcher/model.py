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


@dataclass(frozen=True)
class AlertStory:
    """What an alert says about its story, built once where the story is known (a new story,
    a changed headline, a test alert) and turned into template variables by `variables`."""

    title: str
    url: str | None
    feed: str
    published_at: datetime | None
    language: str | None
    summary: str

    def variables(self) -> dict[str, str | None]:
        """JSON-serialisable, as stored with the alert and seen by templates as `story`."""
        return {
            "title": self.title,
            "url": self.url,
            "feed": self.feed,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "language": self.language,
            "summary": self.summary,
        }
