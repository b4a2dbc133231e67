"""The whole matcher against a deliberately naive reference, on random queries and documents.

The reference works on the list of normalised words (normalisation has its own tests) and
evaluates the query tree by brute force: membership for words, slicing for phrases,
startswith for prefixes, all pairs of positions for NEAR. Documents are written in mixed
scripts, cases and punctuation so that the automaton, the word-to-position mapping and the
tree evaluation are all exercised together.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from watcher.errors import RuleError
from watcher.rules import Document, RuleSet, RuleSpec
from watcher.rules.normalise import normalise_text

# Each concept has spellings that normalise to the same word.
SPELLINGS = {
    "peace": ["peace", "Peace", "PEACE"],
    "talks": ["talks", "Talks"],
    "karabakh": ["Karabakh", "Карабах", "КАРАБАХ", "karabakh"],
    "karabakhe": ["Карабахе"],
    "qarabag": ["Qarabağ", "QARABAĞ", "Qarabag"],
    "aliyev": ["Aliyev", "aliyev"],
    "pashinyan": ["Pashinyan", "Փաշինյան", "Пашинян"],
    "x": ["x", "X"],
}
SEPARATORS = [" ", "  ", ", ", " - ", "\n", "’s ", ". ", " «", "» "]
WORDS = ["peace", "talks", "Karabakh", "Qarabağ", "Aliyev", "Pashinyan", "x"]
PREFIXES = ["karaba*", "peac*", "Карабах*", "tal*"]  # short Latin stems: Latin text only


def random_document(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 12)):
        parts.append(rng.choice(SPELLINGS[rng.choice(list(SPELLINGS))]))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts)


Ref = Callable[[list[str]], bool]


def word_at(term: str) -> Callable[[str], bool]:
    if term.endswith("*"):
        prefix = normalise_text(term[:-1])
        return lambda token: token.startswith(prefix)
    word = normalise_text(term)
    return lambda token: token == word


def random_query(rng: random.Random, depth: int = 0) -> tuple[str, Ref]:
    """A query string (fully parenthesised) and its reference evaluator."""
    roll = rng.random()
    if depth >= 3 or roll < 0.35:
        term = rng.choice(WORDS + PREFIXES)
        test = word_at(term)
        return term, lambda toks: any(map(test, toks))
    if roll < 0.45:
        a, b = rng.sample(WORDS, 2)
        na, nb = normalise_text(a), normalise_text(b)
        return f'"{a} {b}"', lambda toks: any(
            toks[i] == na and toks[i + 1] == nb for i in range(len(toks) - 1)
        )
    if roll < 0.55:
        a, b = rng.choice(WORDS + PREFIXES), rng.choice(WORDS)
        n = rng.randint(1, 4)
        ta, tb = word_at(a), word_at(b)
        return f"({a} NEAR/{n} {b})", lambda toks: any(
            ta(x) and tb(y) and i != j and abs(i - j) <= n
            for i, x in enumerate(toks)
            for j, y in enumerate(toks)
        )
    if roll < 0.65:
        inner, ref = random_query(rng, depth + 1)
        return f"(NOT {inner})", lambda toks: not ref(toks)
    op = rng.choice(["AND", "OR"])
    (left, lref), (right, rref) = random_query(rng, depth + 1), random_query(rng, depth + 1)
    if op == "AND":
        return f"({left} AND {right})", lambda toks: lref(toks) and rref(toks)
    return f"({left} OR {right})", lambda toks: lref(toks) or rref(toks)


def test_random_queries_agree_with_the_reference() -> None:
    rng = random.Random(2024)
    outcomes = {True: 0, False: 0}
    rejected = 0
    for _ in range(250):
        query, reference = random_query(rng)
        try:
            rules = RuleSet.compile([RuleSpec("r", query=query)], {})
        except RuleError as exc:
            assert "none of its terms" in exc.detail, (query, exc)
            rejected += 1
            continue
        for _ in range(10):
            text = random_document(rng)
            tokens = normalise_text(text).split()
            want = reference(tokens)
            got = bool(rules.match(Document(title="", body=text)))
            assert got is want, (query, text, tokens)
            (verdict,) = rules.explain(Document(title="", body=text))
            assert verdict.matched is want
            outcomes[want] += 1
    assert min(outcomes.values()) > 200
    assert rejected < 125


def test_hits_point_at_the_original_words() -> None:
    rng = random.Random(7)
    rules = RuleSet.compile([RuleSpec("r", query=" OR ".join(WORDS + PREFIXES))], {})
    checked = 0
    for _ in range(500):
        text = random_document(rng)
        for m in rules.match(Document(title="", body=text)):
            for hit in m.hits:
                assert hit.text in text
                assert normalise_text(hit.text) != ""
                test = word_at(hit.term)
                assert test(normalise_text(hit.text)), (hit.term, hit.text)
                checked += 1
    assert checked > 500
