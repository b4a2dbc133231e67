"""Extraction keeps the article and drops page chrome, including teaser boxes inside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from watcher.ingest.extract import detect_language, extract_article

PAGES = CORPUS / "pages"
KEYWORDS = re.compile(r"Karabakh|Ղարաբաղ|Արցախ|Artsakh|Փաշինյան|Pashinyan|Ալիև", re.I)
needs_corpus = pytest.mark.skipif(not PAGES.is_dir(), reason="shared corpus not present")


@needs_corpus
@pytest.mark.parametrize(
    "page", sorted(PAGES.glob("tertam__*.html")) if PAGES.is_dir() else [], ids=lambda p: p.name
)
def test_tert_am_teasers_do_not_reach_the_body(page: Path) -> None:
    # These pages name Karabakh, Artsakh and Pashinyan dozens of times, all in teaser boxes.
    assert KEYWORDS.search(page.read_text(encoding="utf-8", errors="replace"))
    extracted = extract_article(page.read_bytes(), "https://www.tert.am/am/news/x")
    assert extracted is not None and len(extracted.text) > 300
    assert not KEYWORDS.search(extracted.text), KEYWORDS.search(extracted.text)


@needs_corpus
def test_real_article_keeps_its_keywords() -> None:
    page = PAGES / "htmldate__news-az__1791336003.html"
    extracted = extract_article(page.read_bytes(), "https://news.az/x")
    assert extracted is not None
    assert "Nagorno-Karabakh conflict" in extracted.text
    assert extracted.title.startswith("Azerbaijan launches counteroffensive")


def test_link_lists_and_heading_grids_dropped_but_article_lists_kept() -> None:
    teasers = "".join(
        f"<li><a href='/n{i}'>Karabakh headline number {i} today</a></li>" for i in range(8)
    )
    grid = "".join(
        f"<h3><a href='/g{i}'>Pashinyan grid headline {i}</a></h3><p></p>" for i in range(6)
    )
    html = f"""<html><body><article><h1>Harvest season begins</h1>
    <p>Farmers across the region began the harvest this week, earlier than in previous years,
    citing a warm autumn and good rainfall over the summer months.</p>
    <h2>What growers say</h2><p>Growers said prices were stable and demand strong this year.</p>
    <p>The ministry listed the main crops:</p><ul><li>wheat and barley</li><li>grapes for wine</li>
    <li>pomegranates</li></ul><p>Exports are expected to rise by a tenth compared with last year.</p>
    <ul>{teasers}</ul>{grid}</article></body></html>""".encode()
    extracted = extract_article(html, "https://example.org/harvest")
    assert extracted is not None
    assert "Growers said prices were stable" in extracted.text and "pomegranates" in extracted.text
    assert "What growers say" in extracted.text
    assert "Karabakh" not in extracted.text and "Pashinyan" not in extracted.text


def test_nothing_to_extract() -> None:
    assert extract_article(b"", "https://example.org/") is None
    assert (
        extract_article(
            b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "https://example.org/"
        )
        is None
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Переговоры по Карабаху возобновились в Брюсселе в пятницу", "ru"),
        ("Qarabağda sülh danışıqları davam edir, nazirlik bildirib", "az"),
        ("Ղարաբաղի խաղաղության բանակցությունները վերսկսվել են", "hy"),
        ("Karabağ barış müzakereleri yeniden başladı, bakanlık açıkladı", "tr"),
        ("Peace talks on Karabakh resumed in Brussels on Friday", "en"),
        ("ok", None),
    ],
)
def test_language_detection(text: str, code: str | None) -> None:
    assert detect_language(text) == code
