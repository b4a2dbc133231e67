"""The article body from its page, by trafilatura. Pure: HTML in, text out.

Only new stories come here. trafilatura's CPU grows faster than linearly on huge pages, so the
input is capped before it is parsed; the caller runs this off the event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trafilatura

from watcher.parse import clean_text

MAX_HTML_BYTES = 3 * 1024 * 1024
MAX_TEXT_CHARS = 200_000

# trafilatura logs every page it finds too short at WARNING; that is our fallback path, not news.
logging.getLogger("trafilatura").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Extracted:
    text: str
    language: str | None = None


def extract_article(html: bytes, url: str) -> Extracted | None:
    """Main text of an article page, or None when nothing article-like was found."""
    if not html.strip():
        return None
    try:
        text = trafilatura.extract(
            html[:MAX_HTML_BYTES],
            url=url,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            deduplicate=True,
        )
    except Exception:  # trafilatura on hostile HTML: fall back to the feed's text
        return None
    if not text:
        return None
    return Extracted(text=clean_text(text)[:MAX_TEXT_CHARS])
