"""Issue #15 findings 5, 6, 8 and 9: undeclared legacy encodings, limits after conversion,
no raw markup as a title, and every reprint extracted whole. Feeds and pages come from a
loopback HTTP server through the real fetcher, as a poll would bring them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import CORPUS, FeedServer, run_watcher
from watcher.ingest.extract import detect_language, extract_article, page_text
from watcher.ingest.fetch import Fetcher, FetchLimits
from watcher.ingest.parse import MAX_FIELD_CHARS, html_to_text, parse_feed

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
TEXTS = {
    "koi8-r": (
        "Переговоры по Карабаху возобновятся",
        "Министры иностранных дел Армении и Азербайджана встретятся на следующей неделе, "
        "сообщили в посольстве. Стороны обсудят делимитацию границы и мирный договор.",
    ),
    "windows-1251": (
        "Пашинян прибыл в Москву с рабочим визитом",
        "Премьер-министр Армении проведет переговоры о торговле и транспортных путях, "
        "заявили в его пресс-службе. Визит продлится два дня.",
    ),
    "windows-1255": (
        "ראש ממשלת ארמניה הגיע לירושלים",
        "ראש הממשלה ייפגש עם נשיא המדינה וידון בשיתוף פעולה כלכלי ובתיירות, "
        "כך נמסר מלשכתו. הביקור יימשך יומיים.",
    ),
}


def _rss(title: str, body: str) -> str:
    return (  # no XML declaration, no encoding anywhere
        "<rss version='2.0'><channel><title>t</title>"
        f"<item><title>{title}</title><link>https://example.org/a</link>"
        f"<description>{body} {body}</description></item></channel></rss>"
    )


def _fetch(server: FeedServer, path: str) -> tuple[bytes, dict[str, str]]:
    async def go() -> tuple[bytes, dict[str, str]]:
        async with Fetcher(FetchLimits(allow_private_addresses=True)) as fetcher:
            resp = await fetcher.get(server.url(path))
        return resp.body, dict(resp.headers)

    return asyncio.run(go())


@pytest.mark.parametrize("encoding", sorted(TEXTS))
def test_undeclared_legacy_feed_decodes(feed_server: FeedServer, encoding: str) -> None:
    title, body = TEXTS[encoding]
    feed_server.add("/f.xml", _rss(title, body).encode(encoding), "application/rss+xml")
    data, headers = _fetch(feed_server, "/f.xml")
    (entry,) = parse_feed(data, feed_server.url("/f.xml"), NOW, headers).entries
    assert entry.title == title and body in entry.summary
    assert detect_language(f"{entry.title}\n{entry.summary}") == (
        "he" if encoding == "windows-1255" else "ru"
    )


@pytest.mark.parametrize("encoding", sorted(TEXTS))
def test_undeclared_legacy_page_decodes(feed_server: FeedServer, encoding: str) -> None:
    title, body = TEXTS[encoding]
    page = (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        + f"<p>{body}</p>" * 4
        + "</article></body></html>"
    )
    feed_server.add("/p.html", page.encode(encoding), "text/html")
    data, _ = _fetch(feed_server, "/p.html")
    extracted = extract_article(data, feed_server.url("/p.html"))
    assert extracted is not None and body in extracted.text


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus not present")
@pytest.mark.parametrize(
    ("name", "word", "language"),
    [
        ("feedparser__fp-koi8r-undeclared.xml", "Как пережить новогоднюю ночь", "ru"),
        ("feedparser__fp-windows1255-undeclared.xml", "האם תדפיס נייר", "he"),
    ],
)
def test_corpus_undeclared_feeds(name: str, word: str, language: str) -> None:
    data = (CORPUS / "feeds" / name).read_bytes()
    (entry,) = parse_feed(data, "https://feeds.example.org/x", NOW).entries
    text = f"{entry.title}\n{entry.summary}"
    assert word in text and detect_language(text) == language


def test_declared_encodings_are_left_to_the_parser() -> None:
    body = "Карабах " * 30
    declared = f"<?xml version='1.0' encoding='windows-1251'?>{_rss('Карабах', body)}"
    (entry,) = parse_feed(declared.encode("cp1251"), "https://x.org/", NOW).entries
    assert entry.title == "Карабах"
    header = _rss("Карабах", body).encode("koi8-r")
    headers = {"Content-Type": "application/rss+xml; charset=koi8-r"}
    (entry,) = parse_feed(header, "https://x.org/", NOW, headers).entries
    assert entry.title == "Карабах"


def test_limit_applies_to_text_not_markup() -> None:
    markup = "<p><span class='x'><a href='https://example.org/tag'>tag</a></span></p>" * 4000
    html = markup + "<p>Late in the post: Karabakh.</p>"
    assert len(html) > MAX_FIELD_CHARS
    assert "Karabakh" in html_to_text(html)
    assert len(html_to_text("<p>" + "word " * 100_000 + "</p>")) <= MAX_FIELD_CHARS


def test_unparseable_fragment_never_keeps_markup() -> None:
    assert html_to_text("<!doctype html><html><b>Big</b> news &amp; more") == "Big news & more"


def test_explain_on_unreadable_page_shows_its_title_not_markup(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text(
        "<!doctype html><html><head><title>Short notice from Baku</title>"
        "<script>var a = '<div>';</script></head><body><div>Baku</div></body></html>",
        encoding="utf-8",
    )
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"database: sqlite:///{tmp_path / 'w.db'}\nrules:\n  - {{name: b, any: [Baku]}}\n",
        encoding="utf-8",
    )
    result = run_watcher("explain", str(page), "-c", str(cfg))
    assert result.returncode == 0, result.stderr
    assert "title: Short notice from Baku" in result.stdout
    assert "<" not in result.stdout.split("title:")[1].splitlines()[0]
    assert page_text(b"<html><body><h1>Head</h1>text</body></html>").title == "Head"


def test_a_reprint_is_extracted_whole_every_time() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {i} of the wire story on the Armenia-Azerbaijan border talks, with "
        f"enough words to count as article text for the extractor number {i}.</p>"
        for i in range(8)
    )
    texts = []
    for site in range(5):
        page = (
            f"<html><head><title>Border talks</title></head><body><nav>Site {site}</nav>"
            f"<article><h1>Border talks</h1>{paragraphs}</article></body></html>"
        )
        extracted = extract_article(page.encode(), f"https://site{site}.example.org/a")
        texts.append(extracted.text if extracted else "")
    assert all("Paragraph 7 of the wire story" in t for t in texts)
    assert len(set(texts)) == 1
