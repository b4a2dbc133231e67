"""Snippets: original text around a hit, whitespace collapsed, cut at words, offsets exact."""

from __future__ import annotations

import random

import pytest

from watcher.rules import Document, RuleSet, RuleSpec
from watcher.rules.normalise import word_spans
from watcher.rules.snippets import ELLIPSIS, MAX_HIT_CHARS, WIDTH, clip_hit, make_snippet

SNIPPETS = [
    # (text, hit, expected snippet) -- the hit is the first occurrence of `hit` in `text`
    ("Карабах", "Карабах", "Карабах"),
    ("В Карабахе тихо.", "Карабахе", "В Карабахе тихо."),
    ("  leading and trailing  ", "and", "leading and trailing"),
    ("tabs\tand\nnewlines\r\nhere", "and", "tabs and newlines here"),
    ("a  b   c", "b", "a b c"),
    ("x\u00a0Ղարաբաղ\u00a0y", "Ղարաբաղ", "x Ղարաբաղ y"),
    ("peace\n\ntalks", "peace\n\ntalks", "peace talks"),
    ("word", "word", "word"),
    ("Qarabağ’s future", "Qarabağ", "Qarabağ’s future"),
]


@pytest.mark.parametrize(("text", "hit", "expected"), SNIPPETS)
def test_short_snippets(text: str, hit: str, expected: str) -> None:
    start = text.index(hit)
    snippet, a, b = make_snippet(text, start, start + len(hit))
    assert snippet == expected
    assert snippet[a:b] == " ".join(hit.split())


@pytest.mark.parametrize("position", [0, 0.25, 0.5, 0.75, 1])
@pytest.mark.parametrize(
    "filler", ["lorem ipsum dolor ", "Бои продолжаются ", "Ղարաբաղ \n\n  ", "x" * 300 + " "]
)
def test_long_text_is_cut_with_ellipses(position: float, filler: str) -> None:
    before = filler * int(40 * position)
    after = filler * int(40 * (1 - position))
    text = before + "KARABAKH " + after
    start = len(before)
    snippet, a, b = make_snippet(text, start, start + 8)
    assert snippet[a:b] == "KARABAKH"
    assert len(snippet) <= WIDTH + 2
    assert "  " not in snippet and "\n" not in snippet
    inner = snippet.strip(ELLIPSIS)
    collapsed = " ".join(text.split())
    assert inner in collapsed  # whole words of the original, in order
    # an ellipsis exactly where the document goes on beyond the snippet
    assert snippet.startswith(ELLIPSIS) is (not collapsed.startswith(inner))
    assert snippet.endswith(ELLIPSIS) is (not collapsed.endswith(inner))
    if len(collapsed) > WIDTH:
        assert ELLIPSIS in snippet


def test_a_long_hit_is_clipped_in_the_middle() -> None:
    hit = " ".join(f"w{i}" for i in range(100))
    assert len(clip_hit(hit)) == MAX_HIT_CHARS - 1
    assert ELLIPSIS in clip_hit(hit)
    assert clip_hit("short") == "short"
    text = "intro " + hit + " outro"
    snippet, a, b = make_snippet(text, 6, 6 + len(hit))
    assert snippet[a:b] == clip_hit(hit)
    assert snippet.startswith("intro ") and snippet.endswith(" outro")


def test_random_snippets_keep_exact_marks() -> None:
    rng = random.Random(5)
    words = ["Карабах", "peace", "Ղարաբաղ", "talks", "Qarabağ", "x", "—", "«a»"]
    spaces = [" ", "  ", "\n", "\t", " \n "]
    for _ in range(3_000):
        parts = []
        for _ in range(rng.randint(1, 120)):
            parts.append(rng.choice(words))
            parts.append(rng.choice(spaces))
        text = "".join(parts)
        start = rng.randrange(len(text))
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        end = text.find(" ", start)
        end = len(text) if end < 0 else end
        if not text[start:end].strip():
            continue
        snippet, a, b = make_snippet(text, start, end)
        assert snippet[a:b] == clip_hit(" ".join(text[start:end].split()))
        assert len(snippet) <= WIDTH + 2
        assert not snippet.startswith(" ") and not snippet.endswith(" ")


@pytest.mark.parametrize(
    ("field", "text", "query", "marked"),
    [
        ("title", "Бои в Карабахе продолжаются", "Карабах*", "Бои в «Карабахе» продолжаются"),
        (
            "summary",
            "Talks on Nagorno-Karabakh.",
            '"Nagorno Karabakh"',
            "Talks on «Nagorno-Karabakh».",
        ),
        ("body", "İLHAM ƏLİYEV said", "İlham", "«İLHAM» ƏLİYEV said"),
        ("body", "Azerbaijan’s president", "Azerbaijan", "«Azerbaijan»’s president"),
        ("body", "Փաշինյանը և Ալիևը", "Փաշինյան*", "«Փաշինյանը» և Ալիևը"),
        ("body", "NATO and\n\nnato", "=nato", "NATO and «nato»"),
        ("body", "北京 and 东京", "北京", "«北京» and 东京"),
    ],
)
def test_marked_snippets_of_matches(field: str, text: str, query: str, marked: str) -> None:
    rules = RuleSet.compile([RuleSpec("r", query=query)], {})
    fields = {"title": "", "summary": "", "body": ""} | {field: text}
    doc = Document(**fields)
    (m,) = rules.match(doc)
    assert m.hits[0].field == field
    assert m.marked_snippet() == marked


def test_hit_offsets_on_every_path_equal_the_word_regex() -> None:
    """Hits are located by counting (few hits) or from tables (many), through the ASCII,
    token or word path; wordless tokens, multi-word tokens and odd whitespace included."""
    rng = random.Random(11)
    pieces = [
        "Карабах",
        "ab",
        "Ղարաբաղ",
        "—",
        "-",
        "x.y",
        "é",
        "''",
        "’s",
        "A’s",
        "1.5",
        "ß",
        "\u2003",
    ]
    odd_spaces = [" ", " ", " ", "  ", "\n", "\xa0", " \n ", "\t"]
    specs = [
        RuleSpec(f"r{i}", query=q, case_sensitive=i % 3 == 0)
        for i, q in enumerate(["Karabakh", "ab", "Gharabagh*", '"x y"', '"1 5"', "ss", "e"])
    ]
    rules = RuleSet.compile(specs, {})
    ascii_pieces = ["ab", "-", "x.y", "''", "A's", "1.5", "|", "E", "it's", "a_b"]
    checked = 0
    for i in range(4_000):
        pool = ascii_pieces if i % 4 == 0 else pieces
        tokens = ["".join(rng.choices(pool, k=rng.randint(1, 3))) for _ in range(40)]
        spaces = odd_spaces if i % 4 > 1 else [" "]
        text = "".join(t + rng.choice(spaces) for t in tokens[:-1]) + tokens[-1]
        if i % 4 > 1:  # else one space between tokens and none around, the usual case
            text = rng.choice(["", " ", "\n"]) + text.replace(" ", rng.choice(spaces)) + " "
        words = word_spans(text)
        scan = rules._automata.scan({"body": text})["body"]
        for pid in scan.occ:
            for first, last in scan.spans(pid):
                assert scan.char_span((first, last)) == (words[first][0], words[last][1])
                checked += 1
    assert checked > 10_000
