"""Rule queries as full-text engine queries, so `watcher search` speaks the rule language.

The index holds one column, `stories.search_text`: title, summary and body folded by the rule
matcher's own `normalise_text` (Карабах is stored as "karabakh"). Folding the query's words
the same way makes the engines agree with the matcher about what a word is, in every script.

The engines cannot say everything the matcher can: the folded column has no fields, no exact
(unfolded) forms, and neither engine measures the matcher's word windows. So the translation
is a *superset*: a story the matcher accepts is never dropped by the engine query; where the
engine cannot be exact (field scopes, `=EXACT`, `~N` and `NEAR/N`) it asks for less and the
compiled RuleSet (kept in `SearchQuery.rules`) has the last word on every candidate, and cuts
the highlighted snippets from the original text. A NOT is only pushed down to the engine when
what it negates is translated exactly, because negating a superset would drop real hits.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.errors import RuleError
from watcher.rules import Document, Hit, RuleMatch, RuleSet, RuleSpec
from watcher.rules.normalise import FOLD, PLACEHOLDER, normalise_words, split_words
from watcher.rules.query import parse_entry, parse_query
from watcher.rules.syntax import And, ListRef, Near, Node, Not, Or, Proximity, Scoped, Term, Word

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Phrase:
    """Folded tokens that must be adjacent, in order; `prefix`: the last one is a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Close:
    """Phrases within `slack` tokens of each other (FTS5 NEAR); PostgreSQL's `<N>` means
    exactly N apart, so there it is an AND and the matcher measures the window."""

    phrases: tuple[Phrase, ...]
    slack: int


@dataclass(frozen=True)
class AllOf:
    """Every positive and none of the negatives. FTS5 only has a binary NOT, so negatives
    are kept apart and rendered as `(positives) NOT (negatives)`."""

    positive: tuple[Expr, ...]
    negative: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Expr, ...]


Expr = Phrase | Close | AllOf | AnyOf


@dataclass(frozen=True)
class _Lowered:
    """An engine expression (None = no restriction) and whether it equals the rule exactly."""

    expr: Expr | None
    exact: bool


_FREE = _Lowered(None, False)


@dataclass(frozen=True)
class SearchQuery:
    """One compiled search: the engine queries and the matcher that verifies their results."""

    text: str
    expr: Expr
    rules: RuleSet

    @property
    def fts5(self) -> str:
        return to_fts5(self.expr)

    @property
    def tsquery(self) -> str:
        return to_tsquery(self.expr)

    def verify(self, doc: Document) -> RuleMatch | None:
        """The matcher's verdict on one candidate, with hits and snippets in its original text."""
        found = self.rules.match(doc)
        return found[0] if found else None


def compile_search(
    query: str, term_lists: Mapping[str, Sequence[str]] | None = None
) -> SearchQuery:
    """Compile a search; raises RuleError naming the position, as a rule's query would."""
    lists = dict(term_lists or {})
    try:
        rules = RuleSet.compile([RuleSpec(name="search", query=query)], lists)
        lowered = _Lowering(lists).lower(parse_query(query), scoped=False)
    except RuleError as exc:  # drop the rule name: the user typed a query, not a rule
        raise RuleError(exc.detail, position=exc.position) from None
    expr = lowered.expr
    if expr is None or (isinstance(expr, AllOf) and not expr.positive):
        raise RuleError("a search needs at least one word that must be present")
    return SearchQuery(query, expr, rules)


def phrase_of(words: Sequence[Word]) -> Phrase:
    """The index tokens a written term stands for ("Nagorno-Karabakh" is two of them)."""
    tokens: list[str] = []
    for word in words:
        for folded in normalise_words(split_words(word.text), FOLD):
            tokens.extend(t for t in folded.split() if t != PLACEHOLDER and _TOKEN.fullmatch(t))
    return Phrase(tuple(tokens), bool(words) and words[-1].prefix)


class _Lowering:
    def __init__(self, lists: Mapping[str, Sequence[str]]) -> None:
        self.lists = lists

    def lower(self, node: Node, scoped: bool) -> _Lowered:
        if isinstance(node, Term):
            return self.term(node, scoped)
        if isinstance(node, Proximity):
            phrases = [self.term(t, True).expr for t in node.terms]
            return _Lowered(_close(phrases, node.distance + len(phrases)), False)
        if isinstance(node, ListRef):
            entries = [parse_entry(e, allow_list=False) for e in self.lists[node.name]]
            return self.any_of([self.lower(e, scoped) for e in entries])
        if isinstance(node, Near):
            left, right = self.lower(node.left, True).expr, self.lower(node.right, True).expr
            return _Lowered(_close([left, right], node.distance + 1), False)
        if isinstance(node, Scoped):  # the index has no fields: any field will do
            return _Lowered(self.lower(node.child, True).expr, False)
        if isinstance(node, And):
            return self.all_of(node.children, scoped)
        if isinstance(node, Or):
            return self.any_of([self.lower(c, scoped) for c in node.children])
        assert isinstance(node, Not)
        return self.all_of((node,), scoped)

    def term(self, term: Term, scoped: bool) -> _Lowered:
        phrase = phrase_of(term.words)
        if not phrase.tokens:
            raise RuleError(f"term {term.source!r} has no letters or digits", position=term.start)
        return _Lowered(phrase, not term.exact and not scoped)

    def all_of(self, children: Sequence[Node], scoped: bool) -> _Lowered:
        positive: list[Expr] = []
        negative: list[Expr] = []
        exact = not scoped
        for child in children:
            if isinstance(child, Not):
                inner = self.lower(child.child, scoped)
                if inner.exact and inner.expr is not None:
                    negative.append(inner.expr)
                else:  # negating a superset would lose stories: leave it to the matcher
                    exact = False
                continue
            got = self.lower(child, scoped)
            exact = exact and got.exact
            if isinstance(got.expr, AllOf):
                positive.extend(got.expr.positive)
                negative.extend(got.expr.negative)
            elif got.expr is not None:
                positive.append(got.expr)
        if not positive and not negative:
            return _Lowered(None, False)
        return _Lowered(AllOf(tuple(positive), tuple(negative)), exact)

    def any_of(self, alternatives: Sequence[_Lowered]) -> _Lowered:
        children: list[Expr] = []
        for alt in alternatives:
            if alt.expr is None or (isinstance(alt.expr, AllOf) and not alt.expr.positive):
                return _FREE  # one unrestricted alternative makes the whole OR unrestricted
            if isinstance(alt.expr, AnyOf):
                children.extend(alt.expr.children)
            else:
                children.append(alt.expr)
        exact = all(a.exact for a in alternatives)
        unique = tuple(dict.fromkeys(children))
        return _Lowered(unique[0] if len(unique) == 1 else AnyOf(unique), exact)


def _close(parts: Sequence[Expr | None], window: int) -> Expr | None:
    """Words within `window` words: FTS5 NEAR when every part is a phrase, else AND.

    The slack is doubled because a word can fold to more than one token (½ -> "1 2"); the
    engine only has to keep every story the matcher's window accepts.
    """
    present = [p for p in parts if p is not None]
    if not present:
        return None
    if len(present) == len(parts) and all(isinstance(p, Phrase) for p in present):
        return Close(tuple(p for p in present if isinstance(p, Phrase)), 2 * window + 2)
    return AllOf(tuple(present))


# -- rendering -----------------------------------------------------------------------------


def to_fts5(expr: Expr) -> str:
    """An SQLite FTS5 MATCH expression. Tokens are [a-z0-9]+ and always quoted, so no word
    can be read as an FTS5 keyword or column name."""
    if isinstance(expr, Phrase):
        return f'"{" ".join(expr.tokens)}"' + (" *" if expr.prefix else "")
    if isinstance(expr, Close):
        return f"NEAR({' '.join(to_fts5(p) for p in expr.phrases)}, {expr.slack})"
    if isinstance(expr, AnyOf):
        return " OR ".join(f"({to_fts5(c)})" for c in expr.children)
    positive = " AND ".join(f"({to_fts5(c)})" for c in expr.positive)
    if not expr.negative:
        return positive
    return f"({positive}) NOT ({' OR '.join(f'({to_fts5(n)})' for n in expr.negative)})"


def to_tsquery(expr: Expr) -> str:
    """A PostgreSQL to_tsquery('simple', ...) string: `<->` phrases, `:*` prefixes, `!`."""
    if isinstance(expr, Phrase):
        last = len(expr.tokens) - 1
        return " <-> ".join(
            f"'{t}'" + (":*" if expr.prefix and i == last else "")
            for i, t in enumerate(expr.tokens)
        )
    if isinstance(expr, Close):
        return " & ".join(f"({to_tsquery(p)})" for p in expr.phrases)
    if isinstance(expr, AnyOf):
        return " | ".join(f"({to_tsquery(c)})" for c in expr.children)
    parts = [f"({to_tsquery(c)})" for c in expr.positive]
    parts += [f"!({to_tsquery(n)})" for n in expr.negative]
    return " & ".join(parts)


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    id: int
    feed: str
    title: str
    url: str | None
    language: str | None
    published_at: datetime | None
    first_seen_at: datetime
    score: float
    """The matcher's score, as alerts carry it: a term weighs 3 in the title, 2 in the
    summary, 1 in the body. The engines see one folded column and cannot tell fields apart."""
    rank: float
    """The engine's relevance, higher is better (bm25 negated on SQLite, ts_rank on PG)."""
    terms: tuple[str, ...]
    hits: tuple[Hit, ...]
    """Where the terms are, with snippets of the original (unfolded) text and mark offsets."""
