"""The public API: RuleSet.compile/match/explain, validate_rules, errors, hits and snippets."""

from __future__ import annotations

import dataclasses

import pytest

from watcher.errors import RuleError, WatcherError
from watcher.rules import Document, Hit, RuleMatch, RuleSet, RuleSpec, Verdict, validate_rules
from watcher.rules.snippets import ELLIPSIS, make_snippet

LISTS = {"karabakh": ["Karabakh", "Qarabağ", "Karabağ", "Artsakh", "Карабах*", "Ղարաբաղ*"]}


def compile_one(query: str, lists: dict[str, list[str]] | None = None) -> RuleSet:
    return RuleSet.compile([RuleSpec("r", query=query)], LISTS if lists is None else lists)


def error_of(query: str) -> RuleError:
    with pytest.raises(RuleError) as info:
        compile_one(query)
    return info.value


# -- errors -------------------------------------------------------------------------------

QUERY_ERRORS = [
    # (query, words the message must contain, position)
    ("Karabakh AND (peace OR talks", "expected ')' to close '(' opened", 13),
    ("Karabakh AND ((peace) OR talks", "expected ')' to close '(' opened", 13),
    ("peace)", "unexpected ')' with no matching '('", 5),
    ("(peace))", "unexpected ')' with no matching '('", 7),
    ("peace AND", "expected a term after 'AND'", 6),
    ("peace OR", "expected a term after 'OR'", 6),
    ("peace NOT", "expected a term after 'NOT'", 6),
    ("OR peace", "expected a term before 'OR'", 0),
    ("AND peace", "expected a term before 'AND'", 0),
    ("(OR peace)", "expected a term before 'OR'", 1),
    ("peace OR OR talks", "expected a term between 'OR' and 'OR'", 9),
    ("peace AND OR talks", "expected a term between 'AND' and 'OR'", 10),
    ("NOT NOT peace", "expected a term between 'NOT' and 'NOT'", 4),
    ("()", "empty parentheses", 0),
    ("@nope", "unknown term list '@nope' (known: karabakh)", 0),
    ("peace @nope", "unknown term list '@nope'", 6),
    ("@", "expected a list name after '@'", 0),
    ('"peace talks', "unterminated quote", 0),
    ('peace "talks', "unterminated quote", 6),
    ('""', "empty phrase", 0),
    ("foo:bar", "unknown field 'foo'", 0),
    ("title:", "expected a term after 'title:'", 0),
    ("title:(body:x)", "field 'body' is not searched by this rule", 7),
    ("title:title:x", "field scopes cannot be nested", 6),
    ("a1 NEAR b1", "expected '/N' after NEAR", 3),
    ("a1 NEAR/x b1", "expected a number of words after NEAR/", 8),
    ("a1 NEAR/0 b1", "proximity must be between 1 and 1000 words, not 0", 8),
    ("a1 NEAR/3 b1 NEAR/3 c1", "NEAR cannot be chained", 13),
    ("(a1 AND b1) NEAR/3 c1", "each side of NEAR must be", 0),
    ("a1 NEAR/3 NOT b1", "expected a term between 'NEAR/3' and 'NOT'", 10),
    ("title:a1 NEAR/3 body:b1", "different fields", 0),
    ('"a1"~3', "proximity needs at least two words", 0),
    ('"a1 b1"~', "expected a number of words after ~", 7),
    ('"a1 b1"~0', "proximity must be between 1 and 1000", 7),
    ("a1~3", "'~N' proximity only follows a \"quoted phrase\"", 2),
    ("neg*tiat", "'*' is only allowed at the end of a word", 3),
    ('"neg* talks"', "only the last word may end in '*'", 0),
    ("*", "'*' needs a word before it", 0),
    ("a*", "a prefix wildcard needs at least 2 letters", 0),
    ("=", "expected a word or \"phrase\" after '='", 0),
    ("---", "has no letters or digits", 0),
    ("peace or talks", "lowercase 'or' is not an operator", 6),
    ("peace and talks", "lowercase 'and' is not an operator", 6),
    ("not war", "lowercase 'not' is not an operator", 0),
]


@pytest.mark.parametrize(("query", "expected", "position"), QUERY_ERRORS)
def test_query_errors_name_the_rule_position_and_expectation(
    query: str, expected: str, position: int
) -> None:
    err = error_of(query)
    assert expected in err.detail
    assert err.position == position
    assert err.rule == "r"
    assert str(err).startswith("rule 'r': ")
    assert isinstance(err, WatcherError)


def test_the_documented_example_message() -> None:
    with pytest.raises(RuleError) as info:
        RuleSet.compile([RuleSpec("karabakh-talks", query="@karabakh (peace OR talks")], LISTS)
    assert (
        str(info.value) == "rule 'karabakh-talks': expected ')' to close '(' opened at position 10"
    )


RULE_ERRORS = [
    (RuleSpec("r", query=""), "empty query"),
    (RuleSpec("r", query="   "), "empty query"),
    (RuleSpec("r"), "needs a query or any/all/none"),
    (RuleSpec("r", query="a1", any=("b1",)), "either a query or any/all/none lists, not both"),
    (RuleSpec("r", query="NOT war"), "none of its terms"),
    (RuleSpec("r", query="peace OR NOT war"), "none of its terms"),
    (RuleSpec("r", none=("war",)), "none of its terms"),
    (RuleSpec("r", query="a1", fields=("headline",)), "unknown field 'headline'"),
    (RuleSpec("r", query="a1", fields=()), "fields must be a non-empty list"),
    (RuleSpec("r", query="body:a1", fields=("title",)), "field 'body' is not searched"),
    (RuleSpec("r", query="a1", priority="urgent"), "priority must be one of low, normal, high"),
    (RuleSpec("r", query="a1", min_score=-1), "min_score must be 0 or more"),
    (RuleSpec("r", query="a1", min_score=float("nan")), "min_score must be a number"),
    (RuleSpec("r", query="a1", languages=("eng",)), "not a two-letter ISO 639-1 code"),
    (RuleSpec("r", query="a1", feeds=("tag:",)), "use a feed name or tag:NAME"),
    (RuleSpec("", query="a1"), "non-empty name"),
    (RuleSpec("r", any=("peace", "neg*tiat")), "any[1] 'neg*tiat': '*' is only allowed"),
    (RuleSpec("r", all=("peace", "")), "all[1] '': empty term"),
    (RuleSpec("r", any=("a1 OR b1",)), "operators belong in a `query`"),
    (RuleSpec("r", any=("@nope",)), "unknown term list '@nope'"),
]


@pytest.mark.parametrize(("spec", "expected"), RULE_ERRORS)
def test_rule_errors(spec: RuleSpec, expected: str) -> None:
    with pytest.raises(RuleError) as info:
        RuleSet.compile([spec], LISTS)
    assert expected in str(info.value)
    assert [expected in str(e) for e in validate_rules([spec], LISTS)] == [True]


LIST_ERRORS = [
    ({"k": ["ok", "neg*tiat"]}, "term list 'k' entry 1 'neg*tiat'"),
    ({"k": ["ok", "@other"]}, "cannot refer to another list"),
    ({"k": ["---"]}, "has no letters or digits"),
    ({"bad name!": ["x"]}, "term list name 'bad name!'"),
    ({"k": "not a list"}, "must be a list of strings"),
    ({"k": [1, 2]}, "must be a list of strings"),
]


@pytest.mark.parametrize(("lists", "expected"), LIST_ERRORS)
def test_term_list_errors(lists: dict[str, object], expected: str) -> None:
    spec = RuleSpec("r", query=f"@{next(iter(lists))}" if " " not in next(iter(lists)) else "x1")
    errors = validate_rules([spec], lists)  # type: ignore[arg-type]
    assert any(expected in str(e) for e in errors), errors
    with pytest.raises(RuleError):
        RuleSet.compile([spec], lists)  # type: ignore[arg-type]


def test_validate_rules_reports_every_problem_of_every_rule() -> None:
    specs = [
        RuleSpec("ok", query="Karabakh"),
        RuleSpec("parens", query="a1 AND (b1"),
        RuleSpec("empty", query=""),
        RuleSpec("list", query="@missing"),
        RuleSpec("settings", query="a1", fields=("x",), priority="urgent"),
        RuleSpec("ok", query="Armenia"),
    ]
    errors = validate_rules(specs, LISTS)
    assert [(e.rule, e.position) for e in errors] == [
        ("parens", 7),
        ("empty", None),
        ("list", 0),
        ("settings", None),
        ("settings", None),
        ("ok", None),
    ]
    assert "same name" in errors[-1].detail
    assert validate_rules([RuleSpec("ok", query="Karabakh")], LISTS) == []


def test_validate_rules_never_raises_for_junk() -> None:
    junk = [
        RuleSpec("q", query=123),  # type: ignore[arg-type]
        RuleSpec("f", query="a1", fields=("title", 7)),  # type: ignore[arg-type]
        RuleSpec("a", any="peace"),  # type: ignore[arg-type]
        RuleSpec("s", query="a1", min_score="high"),  # type: ignore[arg-type]
        RuleSpec("c", query="a1", case_sensitive="yes"),  # type: ignore[arg-type]
        RuleSpec(None, query="a1"),  # type: ignore[arg-type]
    ]
    errors = validate_rules(junk, {"k": None, 5: ["x"]})  # type: ignore[dict-item]
    assert len(errors) == 8
    assert all(isinstance(e, RuleError) for e in errors)


def test_a_rule_using_a_broken_list_is_reported_once() -> None:
    errors = validate_rules([RuleSpec("r", query="@k")], {"k": ["neg*tiat"]})
    assert len(errors) == 1
    assert "term list 'k' entry 0" in errors[0].detail


# -- match results ------------------------------------------------------------------------


def test_match_returns_matching_rules_in_spec_order() -> None:
    specs = [
        RuleSpec("z-last", query="peace"),
        RuleSpec("never", query="football"),
        RuleSpec("a-first", any=("talks",), priority="high"),
    ]
    rules = RuleSet.compile(specs, {})
    assert rules.rule_names == ("z-last", "never", "a-first")
    found = rules.match(Document(title="Peace talks"))
    assert [m.rule for m in found] == ["z-last", "a-first"]
    assert [m.priority for m in found] == ["normal", "high"]
    assert all(isinstance(m, RuleMatch) for m in found)


def test_terms_hits_and_text_in_original_script() -> None:
    rules = RuleSet.compile(
        [RuleSpec("karabakh-talks", query="@karabakh AND (peace OR talks OR negotiat*)")], LISTS
    )
    doc = Document(
        title="Переговоры по Карабаху",
        summary="Talks on Карабахе resumed",
        body="Peace negotiations over Qarabağ continue.",
    )
    (m,) = rules.match(doc)
    assert m.terms == ("Qarabağ", "Карабах*", "peace", "talks", "negotiat*")
    assert [(h.term, h.field, h.text) for h in m.hits] == [
        ("Qarabağ", "body", "Qarabağ"),  # one hit per distinct term first, in rule order,
        ("Карабах*", "title", "Карабаху"),
        ("peace", "body", "Peace"),
        ("talks", "summary", "Talks"),
        ("negotiat*", "body", "negotiations"),
        ("Карабах*", "summary", "Карабахе"),  # then the same terms in other fields
    ]
    for hit in m.hits:
        assert hit.snippet[hit.mark_start : hit.mark_end] == hit.text
    # score: each distinct term at its best field (title 3, summary 2, body 1)
    assert m.score == 1 + 3 + 1 + 2 + 1
    assert m.marked_snippet() == "Peace negotiations over «Qarabağ» continue."
    assert m.marked_snippet("<b>", "</b>") == "Peace negotiations over <b>Qarabağ</b> continue."


def test_first_hit_per_term_and_field() -> None:
    (m,) = compile_one("Karabakh").match(Document(title="Karabakh", body="Карабах and Karabakh"))
    assert [(h.field, h.text) for h in m.hits] == [("title", "Karabakh"), ("body", "Карабах")]
    assert m.terms == ("Karabakh",)
    assert m.score == 3


def test_terms_under_not_are_never_hits() -> None:
    (m,) = compile_one("Karabakh NOT (football NOT peace)").match(
        Document(title="Karabakh football peace")
    )
    assert m.terms == ("Karabakh",)


def test_terms_of_failed_alternatives_are_not_reported() -> None:
    (m,) = compile_one("(peace AND treaty) OR Karabakh").match(Document(title="Karabakh peace"))
    assert m.terms == ("Karabakh",)


def test_proximity_hit_spans_the_window() -> None:
    (m,) = compile_one('"aliyev pashinyan"~5').match(
        Document(title="", body="On Monday Pashinyan met\nAliyev in Brussels.")
    )
    (hit,) = m.hits
    assert hit.term == '"aliyev pashinyan"~5'
    assert hit.text == "Pashinyan met\nAliyev"
    assert hit.snippet == "On Monday Pashinyan met Aliyev in Brussels."
    assert hit.snippet[hit.mark_start : hit.mark_end] == "Pashinyan met Aliyev"


@pytest.mark.parametrize(
    ("min_score", "matched"), [(0, True), (4, True), (4.5, False), (100, False)]
)
def test_min_score(min_score: float, matched: bool) -> None:
    rules = RuleSet.compile([RuleSpec("r", query="Karabakh OR peace", min_score=min_score)], {})
    doc = Document(title="Karabakh", body="peace")  # 3 + 1
    assert bool(rules.match(doc)) is matched
    (verdict,) = rules.explain(doc)
    assert verdict.matched is matched
    if not matched:
        assert verdict.reason == f"score 4 is below min_score {min_score:g}"


FILTERS = [
    # (feeds, languages, doc feed, doc tags, doc language, matched)
    ((), (), "trend", (), "ru", True),
    (("trend",), (), "trend", (), None, True),
    (("trend",), (), "apa", (), None, False),
    (("tag:az",), (), "apa", ("agency", "az"), None, True),
    (("tag:am",), (), "apa", ("agency", "az"), None, False),
    ((), ("en", "ru"), "x", (), "ru", True),
    ((), ("en", "ru"), "x", (), "en-US", True),
    ((), ("en", "ru"), "x", (), "RU", True),
    ((), ("en",), "x", (), "hy", False),
    ((), ("en",), "x", (), None, True),  # unknown language passes
]


@pytest.mark.parametrize(("feeds", "languages", "feed", "tags", "language", "want"), FILTERS)
def test_feed_and_language_filters(
    feeds: tuple[str, ...],
    languages: tuple[str, ...],
    feed: str,
    tags: tuple[str, ...],
    language: str | None,
    want: bool,
) -> None:
    spec = RuleSpec("r", query="Karabakh", feeds=feeds, languages=languages)
    rules = RuleSet.compile([spec], {})
    doc = Document(title="Karabakh", feed=feed, tags=tags, language=language)
    assert bool(rules.match(doc)) is want
    (verdict,) = rules.explain(doc)
    assert verdict.matched is want


# -- explain --------------------------------------------------------------------------------

EXPLAIN = [
    ("Karabakh NOT football", "Karabakh football", 'NOT football: "football" found in body'),
    ("peace OR talks", "nothing", 'needs "peace" OR "talks": none found'),
    ("Karabakh (peace OR talks)", "Karabakh", 'needs "peace" OR "talks": none found'),
    ("Karabakh peace", "peace", 'needs "Karabakh": not found'),
    ('"peace talks"', "peace and talks", 'needs "peace talks": not found'),
    ("title:Karabakh", "Karabakh", 'needs "Karabakh": not found in title'),
    ("@karabakh", "nothing", "needs @karabakh (6 terms): none found"),
    ("a1 OR a2 OR a3 OR a4 OR a5 OR a6 OR a7", "x", "OR … (2 more): none found"),
    ("Aliyev NEAR/2 Pashinyan", "Aliyev said a lot to Pashinyan", "not within 2 words"),
    ("Aliyev NEAR/2 Pashinyan", "Aliyev", 'Aliyev NEAR/2 Pashinyan: needs "Pashinyan": not found'),
    ("Karabakh NOT (football OR war)", "Karabakh war", 'NOT (football OR war): "war" found'),
    ("Karabakh", "Karabakh", "matched with score 1"),
]


@pytest.mark.parametrize(("query", "body", "reason"), EXPLAIN)
def test_explain_reasons(query: str, body: str, reason: str) -> None:
    (verdict,) = compile_one(query).explain(Document(title="", body=body))
    assert isinstance(verdict, Verdict)
    assert reason in verdict.reason
    assert verdict.matched is reason.startswith("matched")


def test_explain_covers_every_rule_and_shows_hits_of_failed_rules() -> None:
    specs = [
        RuleSpec("feeds", query="Karabakh", feeds=("other",)),
        RuleSpec("near", query="Aliyev NEAR/1 Pashinyan"),
        RuleSpec("hit", query="Karabakh"),
    ]
    rules = RuleSet.compile(specs, {})
    doc = Document(title="Aliyev and Pashinyan on Karabakh", feed="trend")
    verdicts = rules.explain(doc)
    assert [v.rule for v in verdicts] == ["feeds", "near", "hit"]
    assert [v.matched for v in verdicts] == [False, False, True]
    assert "feed 'trend' is not in this rule's feeds (other)" in verdicts[0].reason
    assert {h.text for h in verdicts[1].hits} == {"Aliyev", "Pashinyan"}
    assert [m.rule for m in rules.match(doc)] == ["hit"]


def test_results_are_frozen() -> None:
    (m,) = compile_one("Karabakh").match(Document(title="Karabakh"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.score = 10  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.hits[0].text = "x"  # type: ignore[misc]


def test_a_compiled_ruleset_is_reusable_and_stateless() -> None:
    rules = compile_one("Karabakh")
    first = rules.match(Document(title="Karabakh"))
    assert rules.match(Document(title="nothing")) == []
    assert rules.match(Document(title="Karabakh")) == first


def test_empty_ruleset_and_empty_document() -> None:
    assert RuleSet.compile([], {}).match(Document(title="Karabakh")) == []
    assert compile_one("Karabakh").match(Document(title="")) == []


# -- snippets -------------------------------------------------------------------------------


def test_snippet_of_a_cyrillic_hit_in_long_text() -> None:
    before = "Новости дня.  " * 30
    after = "\n\nДругие   новости. " * 30
    text = before + "Бои в Карабахе продолжаются." + after
    (m,) = compile_one("Карабах*").match(Document(title="", body=text))
    (hit,) = m.hits
    assert hit.text == "Карабахе"
    assert hit.snippet.startswith(ELLIPSIS) and hit.snippet.endswith(ELLIPSIS)
    assert "  " not in hit.snippet and "\n" not in hit.snippet
    assert 100 <= len(hit.snippet) <= 162
    assert hit.snippet[hit.mark_start : hit.mark_end] == "Карабахе"
    assert "Бои в Карабахе продолжаются." in hit.snippet
    assert m.marked_snippet("[", "]").count("[Карабахе]") == 1


@pytest.mark.parametrize(
    ("text", "start", "end", "snippet", "marked"),
    [
        ("Карабах", 0, 7, "Карабах", "Карабах"),
        ("  x Карабах y  ", 4, 11, "x Карабах y", "Карабах"),
        ("a\n\n\tb", 0, 5, "a b", "a b"),
        ("word " * 100, 250, 254, None, "word"),
    ],
)
def test_make_snippet(text: str, start: int, end: int, snippet: str | None, marked: str) -> None:
    got, a, b = make_snippet(text, start, end)
    if snippet is not None:
        assert got == snippet
    assert got[a:b] == marked
    assert len(got) <= 162
    if snippet is None:
        assert got.startswith(ELLIPSIS + "word") and got.endswith("word" + ELLIPSIS)


def test_hit_marked_helper() -> None:
    hit = Hit("t", "body", "AA", "x AA y", 2, 4)
    assert hit.marked() == "x «AA» y"
    assert hit.marked("*", "*") == "x *AA* y"


def test_matching_gives_the_names_match_gives() -> None:
    specs = [
        RuleSpec("k", query="@karabakh NOT football"),
        RuleSpec("scored", query="peace OR talks", min_score=3),
        RuleSpec("feeds", query="peace", feeds=("apa",)),
        RuleSpec("near", query="Aliyev NEAR/3 Pashinyan"),
    ]
    rules = RuleSet.compile(specs, LISTS)
    docs = [
        Document(title="Карабах", body="peace"),
        Document(title="peace talks", feed="apa"),
        Document(title="", body="peace talks; Aliyev met Pashinyan"),
        Document(title="Karabakh football"),
    ]
    names = [rules.matching(d) for d in docs]
    assert names == [tuple(m.rule for m in rules.match(d)) for d in docs]
    assert names == [("k",), ("scored", "feeds"), ("near",), ()]
