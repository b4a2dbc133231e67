"""Query text -> syntax tree, with pyparsing; errors name the position and what was expected.

Grammar, loosest binding first (so NEAR > NOT > AND > OR)::

    query   := or
    or      := and ("OR" and)*
    and     := not (["AND"] not)*          adjacent terms are ANDed; "a NOT b" = a AND NOT b
    not     := ["NOT"] near                NOT NOT x is rejected (say x)
    near    := atom ["NEAR/" N atom]       no chaining: a NEAR/3 b NEAR/3 c is an error
    atom    := field ":" (group | leaf) | group | leaf
    group   := "(" or ")"
    leaf    := ["="] '"' words '"' ["~" N] | ["="] word ["*"] | "@" listname

Operators are the uppercase keywords AND, OR, NOT, NEAR only. Lowercase and/or/not in a
query are rejected rather than silently searched for, because "peace or talks" almost always
means OR; quote them ("or") to search for the word itself. Inside quotes nothing is an
operator.

Limits that keep hostile queries cheap: at most MAX_QUERY_CHARS characters and MAX_DEPTH
nested parentheses (pyparsing recurses per level) and MAX_GROUPS parentheses in all (each costs
pyparsing about 0.3 ms); proximity N between 1 and MAX_DISTANCE.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, Final, cast

import pyparsing as pp

from watcher.errors import RuleError
from watcher.rules.model import FIELDS
from watcher.rules.syntax import And, ListRef, Near, Node, Not, Or, Proximity, Scoped, Term, Word

MAX_QUERY_CHARS: Final = 20_000
MAX_DEPTH: Final = 32
MAX_GROUPS: Final = 1_000
MAX_DISTANCE: Final = 1_000
MAX_PROXIMITY_WORDS: Final = 16

_LIST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_FIELD_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]*:")
_LOWER_OPERATORS = frozenset({"and", "or", "not"})
_WORD_BODY = r"[^\s()\"“”~]+"
_Build = Callable[[str, int, list[Any]], Node]


class _Fatal(pp.ParseSyntaxException):
    """Our own diagnosis, raised from a parse action; pyparsing re-raises this class untouched
    (a plain ParseFatalException would be rewrapped by '-' and lose its message)."""


def _fail(s: str, loc: int, message: str) -> _Fatal:
    return _Fatal(s, loc, message)


def _split_word(s: str, loc: int, raw: str) -> Word:
    """A written word -> Word; '*' or a name's '+' may only end it and must follow something."""
    name = raw.endswith("+") and len(raw) > 1 and raw[-2].isalnum()
    if name:
        raw = raw[:-1]
    prefix = raw.endswith("*")
    text = raw[:-1] if prefix else raw
    if (name and prefix) or (prefix and text.endswith("+") and text[:-1][-1:].isalnum()):
        raise _fail(s, loc, "a word is either a name (Aliyev+) or a prefix (negotiat*), not both")
    if "*" in text:
        at = loc + text.index("*")
        raise _fail(s, at, "'*' is only allowed at the end of a word (prefix wildcard)")
    if not text:
        raise _fail(s, loc, "'*' needs a word before it, e.g. negotiat*")
    return Word(text, prefix, name)


def _distance(s: str, loc: int, digits: str, what: str) -> int:
    if not digits.isdigit():
        raise _fail(s, loc, f"expected a number of words after {what}, e.g. {what}5")
    value = int(digits)
    if not 1 <= value <= MAX_DISTANCE:
        raise _fail(s, loc, f"proximity must be between 1 and {MAX_DISTANCE} words, not {value}")
    return value


def _word_action(check_lowercase: bool) -> pp.ParseAction:
    def action(s: str, loc: int, toks: pp.ParseResults) -> Node:
        raw = str(toks[0])
        if raw.startswith("@"):
            name = raw[1:]
            if not _LIST_NAME.fullmatch(name):
                raise _fail(s, loc, f"expected a list name after '@', found {raw!r}")
            return ListRef(raw, name, loc)
        pinned = raw.startswith("^")
        exact = raw[int(pinned) :].startswith("=")
        body = raw[int(pinned) + int(exact) :]
        if pinned and exact:
            raise _fail(s, loc, "'=' already keeps a term to its script: drop the '^'")
        if not body:
            raise _fail(s, loc, "expected a word or \"phrase\" after '='")
        if body.startswith(("=", "@")):
            raise _fail(s, loc, f"unexpected {body[0]!r} in {raw!r}")
        if check_lowercase and _FIELD_PREFIX.match(body):
            raise _fail(s, loc, f"field scopes cannot be nested: {raw!r}")
        if check_lowercase and body in _LOWER_OPERATORS:
            raise _fail(
                s,
                loc,
                f"lowercase {body!r} is not an operator: write {body.upper()} for the operator "
                f'or "{body}" to search for the word',
            )
        word = _split_word(s, loc + len(raw) - len(body), body)
        if pinned and word.name:
            raise _fail(s, loc, "a name (+) is matched across scripts; it cannot be pinned (^)")
        return Term(raw, (word,), exact, loc, pinned)

    return action


_PHRASE_RE = r"=?(?:\"[^\"]*\"|“[^”]*”)(?:~[^\s()]*)?"


def _phrase_action(s: str, loc: int, toks: pp.ParseResults) -> Node:
    raw = str(toks[0])
    exact = raw.startswith("=")
    close = raw.index("”" if raw[int(exact)] == "“" else '"', int(exact) + 1)
    inner, tail = raw[int(exact) + 1 : close], raw[close + 1 :]
    inner_loc = loc + int(exact) + 1
    words: list[Word] = []
    for m in re.finditer(r"\S+", inner):
        words.append(_split_word(s, inner_loc + m.start(), m.group()))
    if not words:
        raise _fail(s, loc, "empty phrase")
    if not tail:
        if any(w.prefix for w in words[:-1]):
            raise _fail(s, loc, "inside a phrase only the last word may end in '*'")
        return Term(raw, tuple(words), exact, loc)
    distance = _distance(s, loc + close + 1, tail[1:], "~")
    if len(words) < 2:
        raise _fail(s, loc, 'proximity needs at least two words, e.g. "aliyev pashinyan"~10')
    if len(words) > MAX_PROXIMITY_WORDS:
        raise _fail(s, loc, f"proximity takes at most {MAX_PROXIMITY_WORDS} words")
    terms = tuple(Term(w.text + "*" * w.prefix, (w,), exact, loc) for w in words)
    return Proximity(raw, terms, distance, loc)


def _unterminated(s: str, loc: int, toks: pp.ParseResults) -> None:
    raise _fail(s, loc, "unterminated quote opened")


def _leaf(check_lowercase: bool) -> pp.ParserElement:
    phrase = pp.Regex(_PHRASE_RE).set_parse_action(_phrase_action)
    unterminated = pp.Regex(r"=?[\"“]").set_parse_action(_unterminated)
    keyword = pp.Regex(r"(?:AND|OR|NOT|NEAR)(?!\w)")
    word = ~keyword + pp.Regex(_WORD_BODY).set_parse_action(_word_action(check_lowercase))
    return (phrase | unterminated | word).set_name("a term")


def _group_action(s: str, loc: int, toks: pp.ParseResults) -> Node:
    start, inner, end = int(toks[0]), cast(Node, toks[1][0]), int(toks[2])
    if isinstance(inner, Term | Proximity | ListRef):
        return inner  # a term keeps its own source: hits name it without parentheses
    return dataclasses.replace(inner, source=s[start:end], start=start)


def _located(expr: pp.ParserElement, build: _Build) -> pp.ParserElement:
    """Wrap `expr` so `build` sees the exact source span of what it matched."""

    def action(s: str, loc: int, toks: pp.ParseResults) -> Node:
        start, values, end = int(toks[0]), list(toks[1]), int(toks[2])
        if len(values) == 1 and not isinstance(values[0], int):
            return cast(Node, values[0])
        source = s[start:end]
        stripped = source.lstrip()  # Located spans include whitespace skipped around the match
        return build(stripped.rstrip(), start + len(source) - len(stripped), values)

    return pp.Located(expr).set_parse_action(action)


def _scoped(source: str, start: int, values: list[Any]) -> Node:
    return Scoped(source, str(values[0])[:-1], values[1], start)


def _field_action(s: str, loc: int, toks: pp.ParseResults) -> str:
    field = str(toks[0])[:-1]
    if field not in FIELDS:
        raise _fail(s, loc, f"unknown field {field!r}: fields are {', '.join(FIELDS)}")
    return str(toks[0])


def _near_op_action(s: str, loc: int, toks: pp.ParseResults) -> int:
    raw = str(toks[0])
    if not raw.startswith("NEAR/"):
        raise _fail(s, loc, "expected '/N' after NEAR, e.g. NEAR/10")
    return _distance(s, loc + 5, raw[5:], "NEAR/")


def _near(source: str, start: int, values: list[Any]) -> Node:
    return Near(source, values[0], values[2], int(values[1]), start)


def _not(source: str, start: int, values: list[Any]) -> Node:
    return Not(source, values[1], start)


def _and(source: str, start: int, values: list[Any]) -> Node:
    return And(source, tuple(values), start)


def _or(source: str, start: int, values: list[Any]) -> Node:
    return Or(source, tuple(values), start)


def _grammar() -> tuple[pp.ParserElement, pp.ParserElement]:
    or_expr = pp.Forward()
    leaf = _leaf(check_lowercase=True)
    group = pp.Located(pp.Suppress("(") - or_expr - pp.Suppress(")").set_name("')'"))
    group.set_parse_action(_group_action)
    field = pp.Regex(r"[A-Za-z_][A-Za-z0-9_]*:").set_parse_action(_field_action)
    scoped = _located(field - (group | leaf), _scoped)
    atom = (scoped | group | leaf).set_name("a term")
    near_op = pp.Regex(r"NEAR(?!\w)(?:/[^\s()\"“”]*)?").set_parse_action(_near_op_action)
    near = _located(atom + pp.Opt(near_op - atom), _near)
    not_kw = pp.Keyword("NOT").set_parse_action(lambda: 0)  # an int marks the keyword's slot
    not_expr = _located(not_kw - near, _not) | near
    and_kw, or_kw = pp.Suppress(pp.Keyword("AND")), pp.Suppress(pp.Keyword("OR"))
    and_expr = _located(not_expr + pp.ZeroOrMore((and_kw - not_expr) | not_expr), _and)
    or_expr <<= _located(and_expr + pp.ZeroOrMore(or_kw - and_expr), _or)
    entry = _leaf(check_lowercase=False)
    return or_expr, entry


_QUERY, _ENTRY = _grammar()
_OPERATOR_TOKEN = re.compile(r"AND|OR|NOT|NEAR(?:/\S*)?")


def _scan(query: str) -> tuple[int, str] | None:
    """Quote and parenthesis problems, found by a scan that skips quoted text.

    pyparsing reports where it gave up, which for a missing ')' is the end of the query; the
    useful position is the '(' that was never closed, and only a scan can know it.
    """
    stack: list[int] = []
    groups = 0
    quote_at, closer = -1, ""
    for i, ch in enumerate(query):
        if quote_at >= 0:
            if ch == closer:
                quote_at = -1
            continue
        if ch in '"“':
            quote_at, closer = i, "”" if ch == "“" else '"'
        elif ch == "(":
            stack.append(i)
            groups += 1
            if groups > MAX_GROUPS:
                return i, f"more than {MAX_GROUPS} parentheses; put long alternatives in a list"
            if len(stack) > MAX_DEPTH:
                return i, f"parentheses nested deeper than {MAX_DEPTH} levels"
        elif ch == ")":
            if not stack:
                return i, "unexpected ')' with no matching '('"
            stack.pop()
    if quote_at >= 0:
        return quote_at, "unterminated quote opened"
    if stack:
        return stack[-1], "expected ')' to close '(' opened"
    return None


def _token_at(query: str, loc: int) -> tuple[int, str]:
    m = re.compile(r"\s*(\S+?)(?=[\s()]|$)|\s*([()])").match(query, loc)
    if not m:
        return len(query), ""
    group = 1 if m.group(1) is not None else 2
    return m.start(group), m.group(group)


def _previous_token(query: str, loc: int) -> tuple[int, str]:
    tokens = [(m.start(), m.group()) for m in re.finditer(r"[()]|[^\s()]+", query[:loc])]
    return tokens[-1] if tokens else (-1, "")


def _diagnose(query: str, exc: pp.ParseBaseException) -> RuleError:
    """Turn a pyparsing failure into 'expected X' at the position a person would point at."""
    loc = min(exc.loc, len(query))
    at, token = _token_at(query, loc)
    prev_at, prev = _previous_token(query, at)
    if token.startswith("~"):
        return RuleError("'~N' proximity only follows a \"quoted phrase\"", position=at)
    if _OPERATOR_TOKEN.fullmatch(token) and (prev in ("", "(") or _OPERATOR_TOKEN.fullmatch(prev)):
        if prev and prev != "(":
            return RuleError(f"expected a term between {prev!r} and {token!r}", position=at)
        return RuleError(f"expected a term before {token!r}", position=at)
    if token.startswith("NEAR"):
        return RuleError(
            "NEAR cannot be chained; combine pairs with AND: (a NEAR/5 b) AND (b NEAR/5 c)",
            position=at,
        )
    if token == ")" and prev == "(":
        return RuleError("empty parentheses", position=prev_at)
    if not token and prev:
        return RuleError(f"expected a term after {prev!r}", position=prev_at)
    if not token:
        return RuleError("empty query")
    return RuleError(f"expected a term, operator or end of query, found {token!r}", position=at)


def parse_query(query: str) -> Node:
    """Parse a query string; raises RuleError (without the rule name) on the first problem."""
    if len(query) > MAX_QUERY_CHARS:
        raise RuleError(f"query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    text = re.sub(r"\s", " ", query)  # one char for one char: positions stay valid
    if not text.strip():
        raise RuleError("empty query")
    problem = _scan(text)
    if problem:
        raise RuleError(problem[1], position=problem[0])
    try:
        result = _QUERY.parse_string(text, parse_all=True)
    except _Fatal as exc:  # raised by our own actions, message included
        raise RuleError(str(exc.msg), position=exc.loc) from None
    except pp.ParseBaseException as exc:
        raise _diagnose(text, exc) from None
    except RecursionError:
        raise RuleError("query is nested too deeply") from None
    node: Node = result[0]
    return node


_SIMPLE_ENTRY = re.compile(r"=?[^\s()\"“”~*=@^+][^\s()\"“”~*+]*\*?")
_ENTRY_OPERATOR = re.compile(r"(?:AND|OR|NOT|NEAR(?:/\S*)?)")


def parse_entry(entry: str, *, allow_list: bool) -> Term | Proximity | ListRef:
    """One term-list entry (or any/all/none item): the leaf syntax of a query, no operators.

    An unquoted entry with spaces (YAML `[peace talks]`) is read as a phrase, since a list
    entry is a single term. Positions in errors are offsets into the entry.
    """
    text = entry.strip()
    if not text:
        raise RuleError("empty term")
    if len(text) > MAX_QUERY_CHARS:
        raise RuleError(f"term is longer than {MAX_QUERY_CHARS} characters")
    if _SIMPLE_ENTRY.fullmatch(text):  # the common case, without pyparsing's per-call cost
        exact = text.startswith("=")
        body = text[int(exact) :]
        prefix = body.endswith("*")
        return Term(text, (Word(body[:-1] if prefix else body, prefix),), exact)
    if text.startswith("@"):
        if not allow_list:
            raise RuleError("a term list entry cannot refer to another list")
        name = text[1:]
        if not _LIST_NAME.fullmatch(name):
            raise RuleError(f"expected a list name after '@', found {text!r}")
        return ListRef(text, name)
    if not re.search(r"[\"“”()~]", text) and re.search(r"\s", text):
        if any(_ENTRY_OPERATOR.fullmatch(w) for w in text.split()):
            raise RuleError("an entry is one term or phrase; operators belong in a `query`")
        text = f'"{text}"'
        node = _parse_entry_text(text)
        return Term(entry.strip(), node.words, node.exact) if isinstance(node, Term) else node
    return _parse_entry_text(text)


def _parse_entry_text(text: str) -> Term | Proximity | ListRef:
    try:
        result = _ENTRY.parse_string(text, parse_all=True)
    except pp.ParseFatalException as exc:
        raise RuleError(str(exc.msg), position=exc.loc) from None
    except pp.ParseBaseException as exc:
        raise RuleError('expected one term or "phrase"', position=exc.loc) from None
    node: Term | Proximity | ListRef = result[0]
    return node
