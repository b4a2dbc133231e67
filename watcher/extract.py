"""The article body from its page, by trafilatura, and the story's language. Pure.

Only new stories come here. trafilatura's CPU grows faster than linearly on huge pages, so the
input is capped before it is parsed; the caller runs this off the event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import py3langid
import trafilatura

from watcher.parse import clean_text

MAX_HTML_BYTES = 3 * 1024 * 1024
MAX_TEXT_CHARS = 200_000
LANGUAGE_SAMPLE_CHARS = 2_000

# trafilatura logs every page it finds too short at WARNING; that is our fallback path, not news.
logging.getLogger("trafilatura").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str = ""


def extract_article(html: bytes, url: str) -> Extracted | None:
    """Main text (and title) of an article page, or None when nothing article-like was found."""
    if not html.strip():
        return None
    try:
        doc = trafilatura.bare_extraction(
            html[:MAX_HTML_BYTES],
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            deduplicate=True,
        )
    except Exception:  # trafilatura on hostile HTML: fall back to the feed's text
        return None
    text = getattr(doc, "text", None) if doc is not None else None
    if not text:
        return None
    title = getattr(doc, "title", None) or ""
    return Extracted(text=clean_text(text)[:MAX_TEXT_CHARS], title=clean_text(title))


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when there is too little text to tell."""
    sample = text[:LANGUAGE_SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < 20:
        return None
    code, _score = py3langid.classify(sample)
    return str(code) if code else None
