"""Hostile rules and documents: huge lists, long or deeply nested queries, regex-killer shapes,
megabyte documents. Each must compile and match correctly or fail with a clear RuleError;
no wall-clock assertions (the benchmark measures speed), but every case here is built so a
quadratic or exponential implementation would not finish in any reasonable test run."""

from __future__ import annotations

import random
import string

import pytest

from watcher.errors import RuleError
from watcher.rules import Document, RuleSet, RuleSpec
from watcher.rules.query import MAX_DEPTH, MAX_QUERY_CHARS


def synthetic_words(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = {
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 12)))
        for _ in range(count * 2)
    }
    return sorted(words)[:count]


def test_a_100000_term_list_compiles_and_matches() -> None:
    words = synthetic_words(100_000)
    words[-1] = "Карабах*"
    words[50_000] = '"peace talks"'
    rules = RuleSet.compile(
        [RuleSpec("big", query="@big"), RuleSpec("big-and", query="@big AND Armenia")],
        {"big": words},
    )
    assert rules.pattern_count >= 99_000
    (m,) = rules.match(Document(title="В Карабахе"))
    assert m.terms == ("Карабах*",)
    hits = rules.match(Document(title="", body=f"{words[10]} then peace talks; Armenia"))
    assert [h.rule for h in hits] == ["big", "big-and"]
    assert hits[0].terms == (words[10], '"peace talks"')
    assert rules.match(Document(title="peace and talks", body=words[10][:-1])) == []


def test_many_hits_in_one_document_are_capped_but_all_terms_counted() -> None:
    words = synthetic_words(5_000)
    rules = RuleSet.compile([RuleSpec("big", query="@big")], {"big": words})
    (m,) = rules.match(Document(title="", body=" ".join(words)))
    assert len(m.terms) == 5_000
    assert len(m.hits) == 100
    assert m.score == 5_000


def test_a_query_of_10000_characters_compiles() -> None:
    terms = synthetic_words(1_200)
    query = " OR ".join(terms)
    while len(query) < 10_000:
        query += " OR extra"
    rules = RuleSet.compile([RuleSpec("long", query=query)], {})
    assert rules.match(Document(title=terms[-1]))
    assert not rules.match(Document(title="nothing"))


def test_a_query_over_the_length_cap_fails_clearly() -> None:
    query = "peace OR " * (MAX_QUERY_CHARS // 9) + "talks"
    with pytest.raises(RuleError, match="characters long; the limit is 20000"):
        RuleSet.compile([RuleSpec("long", query=query)], {})


def test_nesting_at_the_limit_compiles_and_beyond_it_fails() -> None:
    ok = "(" * MAX_DEPTH + "peace" + ")" * MAX_DEPTH
    assert RuleSet.compile([RuleSpec("deep", query=ok)], {}).match(Document(title="peace"))
    deep = "(" * 5_000 + "peace" + ")" * 5_000
    with pytest.raises(RuleError, match="nested deeper than 32") as info:
        RuleSet.compile([RuleSpec("deep", query=deep)], {})
    assert info.value.position == MAX_DEPTH


def test_too_many_parentheses_fail_before_parsing() -> None:
    query = " ".join(["(peace)"] * 1_500)
    with pytest.raises(RuleError, match="more than 1000 parentheses"):
        RuleSet.compile([RuleSpec("many", query=query)], {})


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("(a*)*", "'*' needs a word before it", id="starred-group"),
        pytest.param("((((((((a))))))))*", "'*' needs a word before it", id="nested-star"),
        pytest.param('"a a a a a a a a a"~1000000', "between 1 and 1000", id="huge-slop"),
        pytest.param("NOT " * 3_000 + "a", "between 'NOT' and 'NOT'", id="not-chain"),
        pytest.param("title:" * 3_000 + "a", "field scopes cannot be nested", id="scope-chain"),
        pytest.param("a NEAR/3 " * 2_000 + "a", "NEAR cannot be chained", id="near-chain"),
        pytest.param('"' + "a " * 5_000 + '"~5', "at most 16 words", id="wide-proximity"),
        pytest.param("peace AND " * 2_000, "expected a term after 'AND'", id="dangling-and"),
    ],
)
def test_pathological_queries_fail_fast(query: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        RuleSet.compile([RuleSpec("evil", query=query)], {})


def test_repeated_word_proximity_on_a_huge_repetitive_document() -> None:
    rules = RuleSet.compile(
        [
            RuleSpec("window", query='"aa aa aa aa aa aa aa aa aa"~1000'),
            RuleSpec("pair", query="aa NEAR/1000 zz"),
        ],
        {},
    )
    body = "aa bb " * 200_000
    assert [m.rule for m in rules.match(Document(title="", body=body))] == ["window"]
    assert rules.match(Document(title="", body="aa " * 8)) == []
    far = "aa " + "bb " * 2_000 + "zz"
    assert rules.match(Document(title="", body=far)) == []
    assert [m.rule for m in rules.match(Document(title="", body=far + " aa"))] == ["pair"]


def test_a_5_megabyte_document() -> None:
    paragraph = "Бои в Карабахе. Peace talks, Qarabağ; Azerbaijan’s president said. "
    body = (paragraph * (5_000_000 // len(paragraph) + 1))[:5_000_000]
    body += " Pashinyan met Aliyev at the end."
    rules = RuleSet.compile(
        [
            RuleSpec("karabakh", query='Karabakh* AND "peace talks" NOT football'),
            RuleSpec("meeting", query="Pashinyan NEAR/3 Aliyev"),
            RuleSpec("absent", query="Armenia"),
        ],
        {},
    )
    found = rules.match(Document(title="", body=body))
    assert [m.rule for m in found] == ["karabakh", "meeting"]
    assert found[0].hits[0].text == "Карабахе"
    assert found[1].hits[0].text == "Pashinyan met Aliyev"
    assert found[1].hits[0].snippet.endswith("Pashinyan met Aliyev at the end.")


def test_a_document_of_one_enormous_word_and_of_punctuation_only() -> None:
    rules = RuleSet.compile([RuleSpec("r", query="Karabakh OR aaaa*")], {})
    assert rules.match(Document(title="", body="a" * 1_000_000))
    assert not rules.match(Document(title="", body="—,.;" * 250_000))


def test_control_characters_and_odd_unicode_in_documents() -> None:
    rules = RuleSet.compile([RuleSpec("r", query='"peace talks"')], {})
    assert rules.match(Document(title="\x00peace\u200btalks\ufeff"))  # zero-width space splits
    assert rules.match(Document(title="peace\u00a0talks"))
    assert not rules.match(Document(title="\ud800 peace \udfff"))
