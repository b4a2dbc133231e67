"""A bounded fuzzing run of the parse and extract stages, in CI: real corpus feeds and pages
(/work/shared/corpus), mutated by hypothesis (flipped, inserted, deleted and repeated bytes,
truncation, hostile fragments: DOCTYPEs and entities, NUL, BOMs, lying encodings, broken
CDATA), fed to the pure functions. Only watcher's own errors may escape, the output stays
within the stage's bounds, and the same bytes give the same result. Derandomized, a fixed
number of examples: the same run every time, a few seconds long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CORPUS
from watcher.errors import WatcherError
from watcher.ingest.extract import MAX_TEXT_CHARS, extract_article, page_text
from watcher.ingest.parse import MAX_ENTRIES, MAX_FIELD_CHARS, MAX_TITLE_CHARS, parse_feed

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
PAGE_SEED_BYTES = 80_000  # smaller pages keep trafilatura's share of the run short


def _seeds(folder: str, suffixes: tuple[str, ...], max_bytes: int) -> list[Path]:
    where = CORPUS / folder
    if not where.is_dir():
        return []
    return sorted(
        p for p in where.iterdir() if p.suffix in suffixes and p.stat().st_size <= max_bytes
    )


FEEDS = _seeds("feeds", (".xml", ".json"), 300_000)
PAGES = _seeds("pages", (".html",), PAGE_SEED_BYTES)
needs_corpus = pytest.mark.skipif(
    not FEEDS or not PAGES, reason=f"the shared corpus is not at {CORPUS}"
)

FRAGMENTS = [
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xed\xa0\x80",  # a lone surrogate, UTF-8 encoded
    b"&#xD800;",
    b"&#0;",
    b'<?xml version="1.0" encoding="utf-16"?>',
    b'<?xml version="1.0" encoding="x-no-such"?>',
    b'<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]>',
    b'<!ENTITY x SYSTEM "file:///etc/passwd">&x;',
    b"<![CDATA[",
    b"]]>",
    b"<item><title>",
    b"</channel>",
    b"<div>" * 50,
    b"<script>",
    b'<meta charset="koi8-r">',
    b"<pubDate>Mon, 31 Feb 99999 25:61:61 +9999</pubDate>",
    b"\r\n" * 3,
]

MUTATION = st.tuples(
    st.sampled_from(["flip", "insert", "fragment", "delete", "repeat", "truncate"]),
    st.floats(min_value=0.0, max_value=1.0),
    st.binary(min_size=1, max_size=16),
    st.integers(min_value=1, max_value=4096),
)


def mutate(data: bytes, mutations: list[tuple[str, float, bytes, int]]) -> bytes:
    for op, where, blob, n in mutations:
        at = int(where * len(data))
        if op == "flip" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([data[at] ^ (blob[0] or 1)]) + data[at + 1 :]
        elif op == "insert":
            data = data[:at] + blob + data[at:]
        elif op == "fragment":
            data = data[:at] + FRAGMENTS[n % len(FRAGMENTS)] + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + n :]
        elif op == "repeat":
            data = data[:at] + data[at : at + n] * (1 + blob[0] % 8) + data[at:]
        elif op == "truncate":
            data = data[:at]
    return data


FUZZ: dict[str, Any] = dict(
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=20),  # far above any one input's time: a hang, not slowness
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@needs_corpus
@settings(max_examples=60, **FUZZ)
@given(
    seed=st.integers(min_value=0, max_value=max(len(FEEDS) - 1, 0)),
    mutations=st.lists(MUTATION, min_size=1, max_size=6),
)
def test_mutated_corpus_feeds_parse_or_fail_with_our_error(
    seed: int, mutations: list[tuple[str, float, bytes, int]]
) -> None:
    body = mutate(FEEDS[seed].read_bytes(), mutations)
    try:
        parsed = parse_feed(body, "https://example.org/feed", NOW)
    except WatcherError:
        with pytest.raises(WatcherError):
            parse_feed(body, "https://example.org/feed", NOW)
        return
    assert len(parsed.entries) <= MAX_ENTRIES
    for e in parsed.entries:
        assert len(e.title) <= MAX_TITLE_CHARS
        assert len(e.summary) <= MAX_FIELD_CHARS and len(e.content) <= MAX_FIELD_CHARS
        assert "\x00" not in e.title + e.summary + e.content
        assert e.link is None or e.link.startswith(("http://", "https://"))
        assert e.published_at is None or e.published_at <= NOW
    assert parse_feed(body, "https://example.org/feed", NOW) == parsed


@needs_corpus
@settings(max_examples=25, **FUZZ)
@given(
    seed=st.integers(min_value=0, max_value=max(len(PAGES) - 1, 0)),
    mutations=st.lists(MUTATION, min_size=1, max_size=6),
)
def test_mutated_corpus_pages_extract_within_bounds(
    seed: int, mutations: list[tuple[str, float, bytes, int]]
) -> None:
    page = mutate(PAGES[seed].read_bytes(), mutations)
    url = "https://example.org/article"
    article = extract_article(page, url)
    if article is not None:
        assert 0 < len(article.text) <= MAX_TEXT_CHARS
        assert "<script" not in article.text.lower()
    fallback = page_text(page)
    assert len(fallback.text) <= MAX_TEXT_CHARS
    assert extract_article(page, url) == article
    assert page_text(page) == fallback
