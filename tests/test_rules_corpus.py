"""The matcher on real article text from ../shared/corpus (skipped when it is absent).

Text is extracted with trafilatura as the pipeline does; the corpus is read in place, never
copied into the repository.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from watcher.rules import Document, RuleSet, RuleSpec

PAGES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pages"

pytestmark = pytest.mark.skipif(not PAGES.is_dir(), reason="shared corpus not present")


@cache
def article(stem: str) -> str:
    trafilatura = pytest.importorskip("trafilatura")
    html = (PAGES / f"{stem}.html").read_bytes().decode("utf-8", errors="replace")
    text = trafilatura.extract(html, include_comments=False)
    assert text, stem
    return str(text)


NEWS_AZ = "htmldate__news-az__1791336003"  # Oct 2020, Azerbaijani agency, English
NEWS_AM = "htmldate__news-am__1778318045"  # Armenian-language press review


def hits_of(query: str, text: str) -> list[tuple[str, str]]:
    rules = RuleSet.compile([RuleSpec("r", query=query)], {})
    found = rules.match(Document(title="", body=text))
    return [(h.term, h.text) for m in found for h in m.hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Karabakh", [("Karabakh", "Karabakh")]),  # inside "Nagorno-Karabakh"
        ('"Nagorno Karabakh"', [('"Nagorno Karabakh"', "Nagorno-Karabakh")]),
        ("Armenia", [("Armenia", "Armenia")]),  # the first "Armenian" is not a hit
        ("Armenia*", [("Armenia*", "Armenia")]),
        ("Azerbaijani", [("Azerbaijani", "Azerbaijani")]),
        ('"Azerbaijan stance"', [('"Azerbaijan stance"', "Azerbaijan’s stance")]),
        ('"Security Council"', [('"Security Council"', "Security Council")]),
        ("Pakistan NEAR/3 Azerbaijan", [("Pakistan NEAR/3 Azerbaijan", "Azerbaijan.\nPakistan")]),
        ("Hayee NEAR/4 Pakistani", []),
        (
            "Hayee NEAR/5 Pakistani",
            [("Hayee NEAR/5 Pakistani", "Pakistani Ambassador to Azerbaijani Bilal Hayee")],
        ),
        ("Kashmir NOT Karabakh", []),
        ("Pashinyan", []),
    ],
)
def test_news_az_article(query: str, expected: list[tuple[str, str]]) -> None:
    assert hits_of(query, article(NEWS_AZ)) == expected


def test_whole_words_differ_from_substring_counts() -> None:
    text = article(NEWS_AZ)
    assert text.count("Armenia") == 3  # substring: Armenia twice, Armenian once
    whole = RuleSet.compile([RuleSpec("r", query="Armenian")], {})
    (m,) = whole.match(Document(title="", body=text))
    assert [h.text for h in m.hits] == ["Armenian"]


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("Tonoyan*", "Տոնոյանի"),  # Latin prefix finds the Armenian genitive
        ("Տոնոյան*", "Տոնոյանի"),
        ("Kocharyan*", "Քոչարյանն"),
        ('"Andranik Kocharyan*"', "Անդրանիկ Քոչարյանն"),
    ],
)
def test_news_am_armenian_article(query: str, text: str) -> None:
    hits = hits_of(query, article(NEWS_AM))
    assert hits[0] == (query, text)


def test_every_page_gives_consistent_hits() -> None:
    """Over every page: each hit's text is in the document and marked in its snippet."""
    trafilatura = pytest.importorskip("trafilatura")
    lists = {"words": ["the", "and", "Azerbaijan*", "Armenia*", "Карабах*", "Россия", "und", "的"]}
    rules = RuleSet.compile([RuleSpec("r", query="@words")], lists)
    checked = 0
    for page in sorted(PAGES.glob("*.html")):
        html = page.read_bytes().decode("utf-8", errors="replace")
        text = trafilatura.extract(html, include_comments=False)
        if not text:
            continue
        for m in rules.match(Document(title="", body=text)):
            for hit in m.hits:
                assert hit.text in text, (page.name, hit)
                assert hit.snippet[hit.mark_start : hit.mark_end] == " ".join(hit.text.split())
                assert len(hit.snippet) <= 162
                checked += 1
    assert checked > 100
