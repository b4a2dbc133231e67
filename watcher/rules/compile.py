"""RuleSpec -> compiled rule: checks the spec, parses the query (or the any/all/none lists),
resolves @lists and field scopes, and registers every term's pattern in the shared table.

Every problem becomes a RuleError naming the rule; `check_spec` collects them all so
`validate_rules` can report every mistake in one pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from watcher.errors import RuleError
from watcher.rules.automaton import PatternError, PatternTable
from watcher.rules.evaluate import (
    AllOf,
    AnyNode,
    AnyOf,
    AnyPositional,
    Leaf,
    Near,
    Negation,
    Node,
    is_positional,
)
from watcher.rules.model import FIELDS, PRIORITIES, RuleSpec
from watcher.rules.normalise import CASED, EXACT, FOLD, SCRIPT
from watcher.rules.query import parse_entry, parse_query
from watcher.rules.syntax import And, ListRef, Not, Or, Proximity, Scoped, Term
from watcher.rules.syntax import Near as NearSyntax
from watcher.rules.syntax import Node as Syntax

MIN_CROSS_SCRIPT_STEM = 6
"""Letters a prefix stem needs before it is matched across scripts: shorter stems such as
мир* (peace) fold to strings (mir) that begin common words of other scripts (mirror,
Miranda), so they are kept to the script they are written in."""

_LANGUAGE = re.compile(r"[a-z]{2}")
_LIST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class CompiledRule:
    spec: RuleSpec
    root: Node
    triggers: frozenset[int]
    """Pattern ids outside any NOT: the rule can only match a story containing one of them."""


def _strings(value: object) -> bool:
    return isinstance(value, tuple | list) and all(isinstance(v, str) for v in value)


def check_spec(spec: RuleSpec) -> list[RuleError]:
    """Problems with the spec's plain settings (everything except the query itself)."""
    name = spec.name

    def err(message: str) -> RuleError:
        return RuleError(message, rule=name if isinstance(name, str) else "")

    if not isinstance(name, str) or not name.strip():
        return [err("a rule needs a non-empty name")]
    errors: list[RuleError] = []
    lists = {"any": spec.any, "all": spec.all, "none": spec.none}
    for key, value in [*lists.items(), ("feeds", spec.feeds), ("languages", spec.languages)]:
        if not _strings(value):
            errors.append(err(f"{key} must be a list of strings"))
    has_lists = any(bool(v) for v in lists.values())
    if spec.query is not None and not isinstance(spec.query, str):
        errors.append(err("query must be a string"))
    elif spec.query is not None and has_lists:
        errors.append(err("give either a query or any/all/none lists, not both"))
    elif spec.query is None and not has_lists:
        errors.append(err("a rule needs a query or any/all/none terms"))
    if not _strings(spec.fields) or not spec.fields:
        errors.append(err(f"fields must be a non-empty list of: {', '.join(FIELDS)}"))
    else:
        for f in spec.fields:
            if f not in FIELDS:
                errors.append(err(f"unknown field {f!r}: fields are {', '.join(FIELDS)}"))
    if _strings(spec.languages):
        for lang in spec.languages:
            if not _LANGUAGE.fullmatch(lang.lower()):
                errors.append(err(f"language {lang!r} is not a two-letter ISO 639-1 code"))
    if _strings(spec.feeds):
        for feed in spec.feeds:
            if not feed.strip() or feed.strip() == "tag:":
                errors.append(err(f"feed {feed!r} is empty; use a feed name or tag:NAME"))
    score = spec.min_score
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        errors.append(err("min_score must be a number"))
    elif score < 0:
        errors.append(err(f"min_score must be 0 or more, not {score}"))
    if spec.priority not in PRIORITIES:
        errors.append(
            err(f"priority must be one of {', '.join(PRIORITIES)}, not {spec.priority!r}")
        )
    if not isinstance(spec.case_sensitive, bool):
        errors.append(err("case_sensitive must be true or false"))
    return errors


def list_shape_problem(name: object, entries: object) -> RuleError | None:
    """A badly named list, or one that is not a list of strings (cheap: no parsing)."""
    if not isinstance(name, str) or not _LIST_NAME.fullmatch(name):
        return RuleError(f"term list name {name!r} must be letters, digits, '_', '.', '-'")
    if not _strings(entries):
        return RuleError(f"term list '{name}' must be a list of strings")
    return None


def check_list(name: str, entries: object) -> list[RuleError]:
    """Problems with one named term list, reported whether or not a rule uses it."""
    shape = list_shape_problem(name, entries)
    if shape is not None:
        return [shape]
    assert isinstance(entries, tuple | list)
    errors = []
    for i, entry in enumerate(entries):
        try:
            parse_entry(entry, allow_list=False)
        except RuleError as exc:
            errors.append(RuleError(f"term list '{name}' entry {i} {entry!r}: {exc}"))
    return errors


@dataclass
class Compiler:
    """Lowers parsed rules into evaluation nodes, sharing patterns and parsed lists."""

    term_lists: Mapping[str, Sequence[str]]
    table: PatternTable = field(default_factory=PatternTable)
    _lists: dict[str, tuple[Term | Proximity, ...]] = field(default_factory=dict)
    _list_pids: dict[tuple[str, str], tuple[frozenset[int], dict[int, list[int]]]] = field(
        default_factory=dict
    )
    _labels: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def compile(self, spec: RuleSpec) -> CompiledRule:
        problems = check_spec(spec)
        if problems:
            raise problems[0]
        return _RuleLowering(self, spec).run()

    def parsed_list(self, name: str) -> tuple[Term | Proximity, ...]:
        cached = self._lists.get(name)
        if cached is None:
            entries = self.term_lists[name]
            parsed: list[Term | Proximity] = []
            for i, entry in enumerate(entries):
                try:
                    node = parse_entry(entry, allow_list=False)
                except RuleError as exc:
                    raise RuleError(f"term list '{name}' entry {i} {entry!r}: {exc}") from None
                assert not isinstance(node, ListRef)
                parsed.append(node)
            cached = self._lists[name] = tuple(parsed)
        return cached

    def list_labels(self, name: str) -> tuple[str, ...]:
        labels = self._labels.get(name)
        if labels is None:
            labels = self._labels[name] = tuple(e.source for e in self.parsed_list(name))
        return labels

    def list_pids(self, name: str, mode: str) -> tuple[frozenset[int], dict[int, list[int]]]:
        """Pattern ids of a list's plain terms in one mode, and pid -> entry indexes."""
        key = (name, mode)
        cached = self._list_pids.get(key)
        if cached is None:
            members: dict[int, list[int]] = {}
            for i, entry in enumerate(self.parsed_list(name)):
                if isinstance(entry, Term):
                    try:
                        pids = term_pids(self.table, entry, mode)
                    except PatternError as exc:
                        message = f"term list '{name}' entry {i} {entry.source!r}: {exc}"
                        raise RuleError(message) from None
                    for pid in pids:
                        members.setdefault(pid, []).append(i)
            cached = self._list_pids[key] = (frozenset(members), members)
        return cached


class _RuleLowering:
    def __init__(self, compiler: Compiler, spec: RuleSpec) -> None:
        self.c = compiler
        self.spec = spec
        self.mode = CASED if spec.case_sensitive else FOLD
        self.order = 0
        self.triggers: set[int] = set()

    def error(self, message: str, position: int | None = None) -> RuleError:
        return RuleError(message, rule=self.spec.name, position=position)

    def run(self) -> CompiledRule:
        spec = self.spec
        try:
            tree = parse_query(spec.query) if spec.query is not None else self.structured()
        except RuleError as exc:
            raise self.error(exc.detail, exc.position) from None
        root = self.lower(tree, tuple(spec.fields), negated=False)
        if not _needs_a_hit(root):
            raise self.error(
                "this rule would match stories that contain none of its terms (a NOT alone, or "
                "OR NOT); add a term that must be present"
            )
        return CompiledRule(spec, root, frozenset(self.triggers))

    def structured(self) -> Syntax:
        """any/all/none -> the tree the equivalent query would give."""

        def entry(key: str, i: int, text: str) -> Term | Proximity | ListRef:
            try:
                return parse_entry(text, allow_list=True)
            except RuleError as exc:
                where = f" (character {exc.position})" if exc.position is not None else ""
                raise RuleError(f"{key}[{i}] {text!r}: {exc.detail}{where}") from None

        parts: list[Syntax] = []
        if self.spec.any:
            alts = tuple(entry("any", i, t) for i, t in enumerate(self.spec.any))
            parts.append(
                Or(" OR ".join(a.source for a in alts), alts) if len(alts) > 1 else alts[0]
            )
        parts.extend(entry("all", i, t) for i, t in enumerate(self.spec.all))
        for i, t in enumerate(self.spec.none):
            node = entry("none", i, t)
            parts.append(Not(f"NOT {node.source}", node))
        if len(parts) == 1:
            return parts[0]
        return And(" AND ".join(p.source for p in parts), tuple(parts))

    def next_order(self, count: int = 1) -> int:
        order, self.order = self.order, self.order + count
        return order

    def lower(self, node: Syntax, fields: tuple[str, ...], negated: bool) -> Node:
        if isinstance(node, Term):
            return self.leaf(node, fields, negated)
        if isinstance(node, Proximity):
            leaves = tuple(self.leaf(t, fields, negated) for t in node.terms)
            return Near(node.source, leaves, node.distance, True, fields, self.next_order())
        if isinstance(node, ListRef):
            return self.list_ref(node, fields, negated)
        if isinstance(node, NearSyntax):
            return self.near(node, fields, negated)
        if isinstance(node, Scoped):
            inner = tuple(f for f in fields if f == node.field)
            if not inner:
                raise self.error(
                    f"field {node.field!r} is not searched by this rule (fields: "
                    f"{', '.join(fields)})",
                    node.start + node.source.find(f"{node.field}:"),  # not the group's "("
                )
            return self.lower(node.child, inner, negated)
        if isinstance(node, And):
            return AllOf(node.source, tuple(self.lower(c, fields, negated) for c in node.children))
        if isinstance(node, Or):
            children = tuple(self.lower(c, fields, negated) for c in node.children)
            plain = tuple(c for c in children if isinstance(c, Leaf))
            if len(plain) == len(children) and len({c.fields for c in plain}) == 1:
                return _any_of(node.source, plain)
            if all(is_positional(c) for c in children):
                return AnyPositional(node.source, children, _union(children))
            return AnyNode(node.source, children)
        assert isinstance(node, Not)
        return Negation(node.source, self.lower(node.child, fields, not negated))

    def leaf(self, term: Term, fields: tuple[str, ...], negated: bool) -> Leaf | AnyOf:
        try:
            pids = term_pids(self.c.table, term, self.mode)
        except PatternError as exc:
            raise self.error(f"term {term.source!r}: {exc}", term.start) from None
        if not negated:
            self.triggers.update(pids)
        if len(pids) == 1:
            return Leaf(term.source, pids[0], fields, self.next_order())
        members = {pid: [0] for pid in pids}
        order = self.next_order()
        return AnyOf(term.source, frozenset(pids), members, (term.source,), order, fields)

    def list_ref(self, ref: ListRef, fields: tuple[str, ...], negated: bool) -> Node:
        if ref.name not in self.c.term_lists:
            known = ", ".join(sorted(self.c.term_lists)[:10]) or "none defined"
            raise self.error(f"unknown term list '@{ref.name}' (known: {known})", ref.start)
        try:
            entries = self.c.parsed_list(ref.name)
            pids, members = self.c.list_pids(ref.name, self.mode)
        except RuleError as exc:
            raise self.error(exc.detail, ref.start) from None
        if not entries:
            raise self.error(f"term list '@{ref.name}' is empty", ref.start)
        base = self.next_order(len(entries))
        if not negated:
            self.triggers.update(pids)
        labels = self.c.list_labels(ref.name)
        plain = AnyOf(ref.source, pids, members, labels, base, fields)
        nears: list[Node] = []
        for i, entry in enumerate(entries):
            if isinstance(entry, Proximity):
                leaves = tuple(self.leaf(t, fields, negated) for t in entry.terms)
                nears.append(Near(entry.source, leaves, entry.distance, True, fields, base + i))
        return AnyNode(ref.source, (plain, *nears)) if nears else plain

    def near(self, node: NearSyntax, fields: tuple[str, ...], negated: bool) -> Node:
        sides = (self.lower(node.left, fields, negated), self.lower(node.right, fields, negated))
        for side, syntax in zip(sides, (node.left, node.right), strict=True):
            if not is_positional(side):
                raise self.error(
                    "each side of NEAR must be a term, phrase, @list or (a OR b) group",
                    syntax.start,
                )
        a, b = (s for s in sides if is_positional(s))
        shared = tuple(f for f in a.fields if f in b.fields)
        if not shared:
            raise self.error("the two sides of NEAR are searched in different fields", node.start)
        return Near(node.source, (a, b), node.distance, False, shared, self.next_order())


def cross_script_short(term: Term) -> bool:
    """A one-word prefix stem too short to be matched across scripts (MIN_CROSS_SCRIPT_STEM)."""
    if len(term.words) != 1 or not term.words[0].prefix or term.words[0].name:
        return False
    return sum(c.isalnum() for c in term.words[0].text) < MIN_CROSS_SCRIPT_STEM


def term_pids(table: PatternTable, term: Term, mode: str) -> list[int]:
    """The patterns of one term: a name expands to its inflected forms; a pinned or short
    stem is kept to its script (in case-sensitive rules it stays in the cased mode)."""
    if term.exact:
        return [table.add(term.words, EXACT)]
    if any(w.name for w in term.words):
        return table.add_name(term.words)
    if mode == FOLD and (term.pinned or cross_script_short(term)):
        return [table.add(term.words, SCRIPT)]
    return [table.add(term.words, mode)]


def _any_of(source: str, leaves: Sequence[Leaf]) -> AnyOf:
    """An OR of single terms as one set-based node (a 100-term `any` list is one lookup)."""
    members: dict[int, list[int]] = {}
    for i, leaf in enumerate(leaves):
        members.setdefault(leaf.pid, []).append(i)
    labels = tuple(leaf.source for leaf in leaves)
    orders = tuple(leaf.order for leaf in leaves)
    return AnyOf(source, frozenset(members), members, labels, 0, leaves[0].fields, orders)


def _union(children: Sequence[Node]) -> tuple[str, ...]:
    present = {f for c in children if is_positional(c) for f in c.fields}
    return tuple(f for f in FIELDS if f in present)


def _needs_a_hit(node: Node) -> bool:
    """True if the node can only hold when some positive term occurs."""
    if isinstance(node, AllOf):
        return any(_needs_a_hit(c) for c in node.children)
    if isinstance(node, AnyNode):
        return all(_needs_a_hit(c) for c in node.children)
    return not isinstance(node, Negation)
