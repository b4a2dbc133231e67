"""Every real feed in ../shared/corpus/feeds parses to stories or to a ParseError, nothing else."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT
from watcher.errors import ParseError
from watcher.ingest.parse import parse_feed

FEEDS = sorted((CORPUS / "feeds").glob("*")) if (CORPUS / "feeds").is_dir() else []
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not FEEDS, reason="shared corpus not present")


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: p.name)
def test_corpus_feed_parses_or_fails_cleanly(path: Path) -> None:
    try:
        parsed = parse_feed(path.read_bytes(), "https://feeds.example.org/" + path.name, NOW)
    except ParseError as exc:
        assert str(exc).startswith(("not a feed", "malformed feed", "feed could not be parsed"))
        return
    for e in parsed.entries:
        assert e.title or e.summary or e.link
        assert e.link is None or e.link.startswith(("http://", "https://"))
        assert e.published_at is None or e.published_at <= NOW.replace(minute=5)
        assert "\x00" not in e.title + e.summary + e.content


def test_most_corpus_feeds_yield_stories() -> None:
    ok = 0
    for path in FEEDS:
        with contextlib.suppress(ParseError):
            ok += bool(parse_feed(path.read_bytes(), "https://feeds.example.org/x", NOW).entries)
    assert ok >= len(FEEDS) * 0.8, f"only {ok} of {len(FEEDS)} corpus feeds gave stories"


def test_relative_links_resolve_and_cyrillic_charset_decodes() -> None:
    cp1251 = CORPUS / "feeds" / "miniflux__ibash-org-ru-cp1251.xml"
    if not cp1251.exists():
        pytest.skip("feed not in corpus")
    parsed = parse_feed(cp1251.read_bytes(), "https://ibash.org.ru/rss.xml", NOW)
    text = " ".join(e.title + " " + e.summary for e in parsed.entries)
    assert any("\u0400" <= ch <= "\u04ff" for ch in text)  # decoded Cyrillic, not mojibake


def test_not_a_feed_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(b"<html><body>Hello</body></html>", "https://x.example/", NOW)
    with pytest.raises(ParseError):
        parse_feed(b"\x00\xff\xfe garbage", "https://x.example/", NOW)


def test_relative_link_and_future_date_clamped() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>One</title><link>/news/1</link><pubDate>Mon, 01 Jan 2035 00:00:00 GMT</pubDate></item>
    <item><title>Two</title><link>javascript:alert(1)</link><pubDate>Sat, 01 Jan 1972 00:00:00 GMT</pubDate></item>
    </channel></rss>"""
    parsed = parse_feed(body, "https://agency.example/rss/all.xml", NOW)
    one, two = parsed.entries
    assert one.link == "https://agency.example/news/1"
    assert one.published_at is not None and one.published_at <= NOW.replace(minute=5)
    assert two.link is None and two.published_at is None


def test_corpus_table_doc_is_current() -> None:
    """docs/corpus-feeds.md lists, per corpus feed, the stories or the error it gives."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "corpus_feeds", ROOT / "benchmarks" / "corpus_feeds.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (ROOT / "docs" / "corpus-feeds.md").read_text(encoding="utf-8")
    assert doc == module.table(), (
        "regenerate: python benchmarks/corpus_feeds.py > docs/corpus-feeds.md"
    )


def test_a_title_that_looks_like_a_whole_html_document_stays_text() -> None:
    """lxml asserts on a fragment that opens a document; that must not escape the parser."""
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>&lt;html&gt;</title><link>https://a.example/1</link>
    <description>&lt;!doctype html&gt;&lt;p&gt;Body&lt;/p&gt;</description></item>
    <item><title>Fine</title><link>https://a.example/2</link></item>
    </channel></rss>"""
    parsed = parse_feed(body, "https://a.example/rss", NOW)
    assert [e.link for e in parsed.entries] == ["https://a.example/1", "https://a.example/2"]
