"""Compiled rule trees and how they are evaluated against one scanned document.

Each node answers three questions: does it hold (the fast path used by match), why not (for
explain), and which positive hits support it (for alerts and scores). Terms below a NOT never
count as hits. A term list (@name) is one node holding a set of pattern ids, so a 100,000-entry
list costs one set intersection per field, not 100,000 lookups.

Proximity is measured in words of the original text. `a NEAR/N b`: one occurrence of each,
distinct, with at most N-1 words strictly between them (adjacent words are 1 apart), either
order; a phrase operand counts from its nearer end. `"w1 ... wk"~N`: all k words, any order,
whose first words lie within N + k - 2 words of each other (so for two words the same as
NEAR/N).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from heapq import merge
from typing import Protocol, TypeGuard

from watcher.rules.fieldscan import FieldScan, Span
from watcher.rules.model import FIELDS

Scan = Mapping[str, FieldScan]
Found = tuple[int, str, str, Span]
"""(rule order, term as written, field, word span): one hit before snippets are cut."""

_SHOWN_ALTERNATIVES = 5


def quoted(source: str) -> str:
    return source if source[:1] in ('"', "“", "=", "@", "(") else f'"{source}"'


def _where(fields: tuple[str, ...]) -> str:
    return "" if fields == FIELDS else f" in {', '.join(fields)}"


class Node(Protocol):
    @property
    def source(self) -> str: ...

    def holds(self, scan: Scan) -> bool: ...
    def why_not(self, scan: Scan) -> str: ...
    def collect(self, scan: Scan, out: list[Found], everything: bool) -> None: ...


class Positional(Node, Protocol):
    @property
    def fields(self) -> tuple[str, ...]: ...

    def spans(self, scan: Scan, field: str) -> list[Span]: ...


@dataclass(frozen=True, eq=False)
class Leaf:
    """One term: a pattern id searched in some fields."""

    source: str
    pid: int
    fields: tuple[str, ...]
    order: int

    def holds(self, scan: Scan) -> bool:
        for f in self.fields:  # noqa: SIM110 (hot path: a loop, not a generator per call)
            if self.pid in scan[f].occ:
                return True
        return False

    def spans(self, scan: Scan, field: str) -> list[Span]:
        return scan[field].spans(self.pid) if field in self.fields else []

    def why_not(self, scan: Scan) -> str:
        return f"needs {quoted(self.source)}: not found{_where(self.fields)}"

    def collect(self, scan: Scan, out: list[Found], everything: bool) -> None:
        for f in self.fields:
            field_scan = scan[f]
            if self.pid in field_scan.occ:
                out.append((self.order, self.source, f, field_scan.first_span(self.pid)))


@dataclass(frozen=True, eq=False)
class AnyOf:
    """Many plain terms, any of which will do: a term list, or an OR of single terms.

    One set intersection per field instead of a loop over terms. `members` (pid -> entry
    indexes) and `labels` (entries as written) are shared by every rule using a list; an
    entry's place in the rule's term order is `base + i`, or `orders[i]` when given.
    """

    source: str
    pids: frozenset[int]
    members: Mapping[int, Sequence[int]]
    labels: Sequence[str]
    base: int
    fields: tuple[str, ...]
    orders: Sequence[int] = ()

    def holds(self, scan: Scan) -> bool:
        for f in self.fields:  # noqa: SIM110 (hot path: a loop, not a generator per call)
            if not scan[f].occ.keys().isdisjoint(self.pids):
                return True
        return False

    def spans(self, scan: Scan, field: str) -> list[Span]:
        if field not in self.fields:
            return []
        field_scan = scan[field]
        found = [field_scan.spans(p) for p in self.pids.intersection(field_scan.occ.keys())]
        return found[0] if len(found) == 1 else list(merge(*found))

    def why_not(self, scan: Scan) -> str:
        if self.source.startswith("@"):
            count = len(self.labels)
            return f"needs {self.source} ({count} terms): none found{_where(self.fields)}"
        return _alternatives(self.labels)

    def collect(self, scan: Scan, out: list[Found], everything: bool) -> None:
        orders = self.orders
        for f in self.fields:
            field_scan = scan[f]
            for pid in self.pids.intersection(field_scan.occ.keys()):
                span = field_scan.first_span(pid)
                for i in self.members[pid]:
                    order = orders[i] if orders else self.base + i
                    out.append((order, self.labels[i], f, span))


def _alternatives(sources: Sequence[str]) -> str:
    shown = " OR ".join(quoted(s) for s in sources[:_SHOWN_ALTERNATIVES])
    more = len(sources) - _SHOWN_ALTERNATIVES
    return f"needs {shown}{f' OR … ({more} more)' if more > 0 else ''}: none found"


@dataclass(frozen=True, eq=False)
class AllOf:
    source: str
    children: tuple[Node, ...]
    _cheap_first: tuple[Node, ...] = field(init=False, repr=False)
    """The children with plain terms first: they are a set lookup, proximity is a walk."""

    def __post_init__(self) -> None:
        plain = [c for c in self.children if isinstance(c, Leaf | AnyOf)]
        rest = [c for c in self.children if not isinstance(c, Leaf | AnyOf)]
        object.__setattr__(self, "_cheap_first", (*plain, *rest))

    def holds(self, scan: Scan) -> bool:
        for c in self._cheap_first:  # noqa: SIM110 (hot path: a loop, not a generator)
            if not c.holds(scan):
                return False
        return True

    def why_not(self, scan: Scan) -> str:
        return "; ".join(c.why_not(scan) for c in self.children if not c.holds(scan))

    def collect(self, scan: Scan, out: list[Found], everything: bool) -> None:
        for c in self.children:
            c.collect(scan, out, everything)


@dataclass(frozen=True, eq=False)
class AnyNode:
    source: str
    children: tuple[Node, ...]
    _sets: tuple[tuple[tuple[str, ...], frozenset[int]], ...] = field(init=False, repr=False)
    """The plain-term children's pattern ids merged per field scope, so `holds` is a set
    test per field instead of a call per child (an OR of a list and twenty names is common)."""
    _rest: tuple[Node, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sets: dict[tuple[str, ...], set[int]] = {}
        rest: list[Node] = []
        for c in self.children:
            if isinstance(c, Leaf):
                sets.setdefault(c.fields, set()).add(c.pid)
            elif isinstance(c, AnyOf):
                sets.setdefault(c.fields, set()).update(c.pids)
            else:
                rest.append(c)
        object.__setattr__(self, "_sets", tuple((f, frozenset(p)) for f, p in sets.items()))
        object.__setattr__(self, "_rest", tuple(rest))

    def holds(self, scan: Scan) -> bool:
        for fields, pids in self._sets:
            for f in fields:
                if not scan[f].occ.keys().isdisjoint(pids):
                    return True
        for c in self._rest:  # noqa: SIM110 (hot path: a loop, not a generator)
            if c.holds(scan):
                return True
        return False

    def why_not(self, scan: Scan) -> str:
        return _alternatives([c.source for c in self.children])

    def collect(self, scan: Scan, out: list[Found], everything: bool) -> None:
        for c in self.children:
            if everything or c.holds(scan):
                c.collect(scan, out, everything)


@dataclass(frozen=True, eq=False)
class AnyPositional(AnyNode):
    """An OR whose children all have positions, so it can be a NEAR operand."""

    fields: tuple[str, ...] = ()

    def spans(self, scan: Scan, field: str) -> list[Span]:
        parts = [c.spans(scan, field) for c in self.children if is_positional(c)]
        return list(merge(*parts))


@dataclass(frozen=True, eq=False)
class Negation:
    source: str
    child: Node

    def holds(self, scan: Scan) -> bool:
        return not self.child.holds(scan)

    def why_not(self, scan: Scan) -> str:
        found: list[Found] = []
        self.child.collect(scan, found, False)
        if not found:
            return f"{self.source}: matched"
        _, term, field, _ = min(found)
        return f"{self.source}: {quoted(term)} found in {field}"

    def collect(self, scan: Scan, out: list[Found], everything: bool) -> None:
        return None  # what a NOT excludes is never a reason to alert


@dataclass(frozen=True, eq=False)
class Near:
    """Proximity: `pair` for NEAR/N (two operands), `window` for "w1 ... wk"~N."""

    source: str
    operands: tuple[Positional, ...]
    distance: int
    window: bool
    fields: tuple[str, ...]
    order: int

    def where(self, scan: Scan, field: str) -> Span | None:
        lists = [op.spans(scan, field) for op in self.operands]
        if not all(lists):
            return None
        if self.window:
            return window_holds(lists, self.distance + len(lists) - 2)
        return pair_holds(lists[0], lists[1], self.distance)

    def holds(self, scan: Scan) -> bool:
        return any(self.where(scan, f) is not None for f in self.fields)

    def why_not(self, scan: Scan) -> str:
        for op in self.operands:
            if not op.holds(scan):
                return f"{self.source}: {op.why_not(scan)}"
        return f"{self.source}: not within {self.distance} words{_where(self.fields)}"

    def collect(self, scan: Scan, out: list[Found], everything: bool) -> None:
        for f in self.fields:
            span = self.where(scan, f)
            if span is not None:
                out.append((self.order, self.source, f, span))
        if everything:
            for op in self.operands:
                op.collect(scan, out, everything)


def is_positional(node: Node) -> TypeGuard[Positional]:
    """Nodes with word positions, which NEAR can measure (a plain type check: fast)."""
    return isinstance(node, Leaf | AnyOf | AnyPositional)


def pair_holds(a: list[Span], b: list[Span], distance: int) -> Span | None:
    """First pair (x from a, y from b, x != y) with at most distance-1 words between them.

    Walks both lists in start order keeping, per side, the two earlier spans that end last;
    the best partner for a span is always one of those (two, in case one is the span itself).
    """
    best: tuple[list[Span], list[Span]] = ([], [])
    for span, side in merge(((s, 0) for s in a), ((s, 1) for s in b)):
        for other in best[1 - side]:
            if other != span and span[0] - other[1] <= distance:
                return (min(other[0], span[0]), max(other[1], span[1]))
        mine = best[side]
        if span not in mine:
            mine.append(span)
            mine.sort(key=lambda s: s[1], reverse=True)
            del mine[2:]
    return None


def window_holds(lists: list[list[Span]], limit: int) -> Span | None:
    """First window holding one occurrence per list (identical lists need distinct
    occurrences), whose starts lie within `limit` words. One lazy pass over the occurrences,
    so it stops at the first window that fits."""
    need: dict[int, int] = {}
    distinct: dict[int, list[Span]] = {}
    for spans in lists:
        distinct.setdefault(id(spans), spans)
        need[id(spans)] = need.get(id(spans), 0) + 1
    events = merge(*(_tagged(spans, key) for key, spans in distinct.items()))
    window: deque[tuple[Span, int]] = deque()
    have: dict[int, int] = dict.fromkeys(need, 0)
    missing = len(need)
    for span, key in events:
        window.append((span, key))
        have[key] += 1
        if have[key] == need[key]:
            missing -= 1
        while missing == 0:
            first, first_key = window[0]
            if span[0] - first[0] <= limit:
                return (first[0], max(s[1] for s, _ in window))
            window.popleft()
            if have[first_key] == need[first_key]:
                missing += 1
            have[first_key] -= 1
    return None


def _tagged(spans: list[Span], group: int) -> Iterator[tuple[Span, int]]:
    return ((span, group) for span in spans)
