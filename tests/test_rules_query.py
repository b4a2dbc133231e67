"""The parser alone: query text -> tree shape, term sources and positions, list entries."""

from __future__ import annotations

import pytest

from watcher.errors import RuleError
from watcher.rules.query import parse_entry, parse_query
from watcher.rules.syntax import And, ListRef, Near, Node, Not, Or, Proximity, Scoped, Term


def shape(node: Node) -> str:
    """A compact rendering of the tree, so tables can state the expected structure."""
    if isinstance(node, Term):
        words = " ".join(w.text + "*" * w.prefix for w in node.words)
        text = (
            f'"{words}"'
            if len(node.words) > 1 or node.source.lstrip("=").startswith('"')
            else words
        )
        return ("=" if node.exact else "") + text
    if isinstance(node, Proximity):
        return f"(~{node.distance} {' '.join(shape(t) for t in node.terms)})"
    if isinstance(node, ListRef):
        return f"@{node.name}"
    if isinstance(node, Near):
        return f"(NEAR/{node.distance} {shape(node.left)} {shape(node.right)})"
    if isinstance(node, Scoped):
        return f"{node.field}:{shape(node.child)}"
    if isinstance(node, Not):
        return f"(NOT {shape(node.child)})"
    op = "AND" if isinstance(node, And) else "OR"
    assert isinstance(node, And | Or)
    return f"({op} {' '.join(shape(c) for c in node.children)})"


SHAPES = [
    ("peace", "peace"),
    ("  peace  ", "peace"),
    ("peace talks", "(AND peace talks)"),
    ("peace AND talks", "(AND peace talks)"),
    ("peace OR talks", "(OR peace talks)"),
    ("a1 b1 c1", "(AND a1 b1 c1)"),
    ("a1 OR b1 OR c1", "(OR a1 b1 c1)"),
    ("a1 AND b1 OR c1", "(OR (AND a1 b1) c1)"),
    ("a1 OR b1 AND c1", "(OR a1 (AND b1 c1))"),
    ("a1 OR b1 c1", "(OR a1 (AND b1 c1))"),
    ("a1 b1 OR c1 d1", "(OR (AND a1 b1) (AND c1 d1))"),
    ("(a1 OR b1) c1", "(AND (OR a1 b1) c1)"),
    ("a1 (b1 OR c1)", "(AND a1 (OR b1 c1))"),
    ("NOT a1", "(NOT a1)"),
    ("NOT a1 b1", "(AND (NOT a1) b1)"),
    ("a1 NOT b1", "(AND a1 (NOT b1))"),
    ("a1 AND NOT b1", "(AND a1 (NOT b1))"),
    ("a1 OR NOT b1", "(OR a1 (NOT b1))"),
    ("NOT (a1 OR b1)", "(NOT (OR a1 b1))"),
    ("a1 NOT b1 NOT c1", "(AND a1 (NOT b1) (NOT c1))"),
    ("((a1))", "a1"),
    ("(((a1 b1)))", "(AND a1 b1)"),
    ('"peace talks"', '"peace talks"'),
    ('"peace"', '"peace"'),
    ('"peace negotiat*"', '"peace negotiat*"'),
    ("negotiat*", "negotiat*"),
    ("Карабах*", "Карабах*"),
    ("Nagorno-Karabakh", "Nagorno-Karabakh"),
    ("Azerbaijan's", "Azerbaijan's"),
    ("10:30", "10:30"),
    ("24/7", "24/7"),
    ("=AA", "=AA"),
    ("=AA*", "=AA*"),
    ('="Peace Talks"', '="Peace Talks"'),
    ("@karabakh", "@karabakh"),
    ("@my-list.v2", "@my-list.v2"),
    ('"aliyev pashinyan"~10', "(~10 aliyev pashinyan)"),
    ('"a1 b1 c1"~3', "(~3 a1 b1 c1)"),
    ('="AA bb"~2', "(~2 =AA =bb)"),
    ('"negotiat* peace"~4', "(~4 negotiat* peace)"),
    ("aliyev NEAR/10 pashinyan", "(NEAR/10 aliyev pashinyan)"),
    ("(a1 OR b1) NEAR/2 c1", "(NEAR/2 (OR a1 b1) c1)"),
    ('"prime minister" NEAR/2 @leaders', '(NEAR/2 "prime minister" @leaders)'),
    ("a1 NEAR/2 b1 c1", "(AND (NEAR/2 a1 b1) c1)"),
    ("NOT a1 NEAR/2 b1", "(NOT (NEAR/2 a1 b1))"),
    ("a1 NEAR/2 b1 OR c1", "(OR (NEAR/2 a1 b1) c1)"),
    ("title:Karabakh", "title:Karabakh"),
    ("title: Karabakh", "title:Karabakh"),
    ('body:"peace talks"', 'body:"peace talks"'),
    ("title:(a1 OR b1)", "title:(OR a1 b1)"),
    ("title:a1 b1", "(AND title:a1 b1)"),
    ("summary:@karabakh", "summary:@karabakh"),
    ("title:=AA", "title:=AA"),
    ("NOT title:a1 b1", "(AND (NOT title:a1) b1)"),
    ('title:"a1 b1"~3', "title:(~3 a1 b1)"),
    ('"or"', '"or"'),
    ('"AND NOT"', '"AND NOT"'),
    ("ANDROID ORACLE NOTE NEARBY", "(AND ANDROID ORACLE NOTE NEARBY)"),
    ("And Or", "(AND And Or)"),
    ("“peace talks”", '"peace talks"'),
    ("peace\ttalks\nOR\u00a0war", "(OR (AND peace talks) war)"),
]


@pytest.mark.parametrize(("query", "expected"), SHAPES)
def test_tree_shape(query: str, expected: str) -> None:
    assert shape(parse_query(query)) == expected


def collect_terms(node: Node) -> list[Term | ListRef]:
    if isinstance(node, Term | ListRef):
        return [node]
    if isinstance(node, Proximity):
        return list(node.terms)
    if isinstance(node, Near):
        return collect_terms(node.left) + collect_terms(node.right)
    if isinstance(node, Scoped | Not):
        return collect_terms(node.child)
    return [t for c in node.children for t in collect_terms(c)]


@pytest.mark.parametrize(
    "query",
    [
        "@karabakh AND (peace OR talks OR negotiat*) NOT football",
        'title:Karabakh body:"peace talks" =AA',
        "  ((Карабах*))   OR   Ղարաբաղ  ",
        "aliyev NEAR/10 pashinyan NOT title:(x1 OR y1)",
    ],
)
def test_terms_keep_their_source_and_position(query: str) -> None:
    for term in collect_terms(parse_query(query)):
        assert query[term.start : term.start + len(term.source)] == term.source


@pytest.mark.parametrize(
    ("query", "source"),
    [
        ("a1 b1", "a1 b1"),
        ("  a1   OR   b1  ", "a1   OR   b1"),
        ("NOT (a1 OR b1)", "NOT (a1 OR b1)"),
        ("(a1 b1) c1", "(a1 b1) c1"),
        ("x1 (a1 b1)", "x1 (a1 b1)"),
        ("a1 NEAR/3 (b1 OR c1)", "a1 NEAR/3 (b1 OR c1)"),
    ],
)
def test_compound_sources_cover_their_text(query: str, source: str) -> None:
    node = parse_query(query)
    assert node.source == source
    assert query[node.start : node.start + len(node.source)] == source


def test_nested_group_sources_include_their_parentheses() -> None:
    node = parse_query("x1 NOT (a1 OR b1)")
    assert isinstance(node, And)
    negation = node.children[1]
    assert isinstance(negation, Not)
    assert negation.child.source == "(a1 OR b1)"


ENTRIES = [
    ("Karabakh", "Karabakh"),
    ("  Karabakh  ", "Karabakh"),
    ("negotiat*", "negotiat*"),
    ("=AA", "=AA"),
    ('"peace talks"', '"peace talks"'),
    ("peace talks", '"peace talks"'),  # unquoted with spaces: a phrase
    ("and", "and"),  # lowercase operators are fine as entries
    ("or else", '"or else"'),
    ('"aliyev pashinyan"~5', "(~5 aliyev pashinyan)"),
    ("Nagorno-Karabakh", "Nagorno-Karabakh"),
    ("10:30", "10:30"),
    ("Azerbaijan's", "Azerbaijan's"),
]


@pytest.mark.parametrize(("entry", "expected"), ENTRIES)
def test_list_entries(entry: str, expected: str) -> None:
    assert shape(parse_entry(entry, allow_list=False)) == expected


def test_structured_entries_may_name_lists_but_list_entries_may_not() -> None:
    assert shape(parse_entry("@karabakh", allow_list=True)) == "@karabakh"
    with pytest.raises(RuleError, match="cannot refer to another list"):
        parse_entry("@karabakh", allow_list=False)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("", "empty term"),
        ("   ", "empty term"),
        ("neg*tiat", "only allowed at the end"),
        ("a1 OR b1", "operators belong in a `query`"),
        ("NOT war", "operators belong in a `query`"),
        ("a1 NEAR/3 b1", "operators belong in a `query`"),
        ("(a1 b1)", "expected one term"),
        ('"a1 b1', "unterminated quote"),
        ("x" * 20_001, "longer than 20000"),
    ],
)
def test_bad_entries(entry: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_entry(entry, allow_list=False)
