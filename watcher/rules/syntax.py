"""The parsed form of a query, before lists, fields and normalisation are resolved.

Kept separate from the compiled form so the parser stays a pure function of the query text,
and so the structured any/all/none lists can build the same tree without a query string.
Every node remembers its span in the source, which is how errors name a position and how a
hit names the term "as written".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    """One search word as written (without `*`/`=`); may still contain punctuation."""

    text: str
    prefix: bool = False
    name: bool = False
    """Written `Name+`: the name with its inflectional endings (see `names`)."""


@dataclass(frozen=True)
class Term:
    """A word or a "quoted phrase" (several words that must be adjacent, in order)."""

    source: str
    words: tuple[Word, ...]
    exact: bool = False
    start: int = 0
    pinned: bool = False
    """Written `^term`: found only in its own script (no transliteration)."""


@dataclass(frozen=True)
class Proximity:
    """ "w1 w2 ..."~N: every word within a window, in any order (see evaluate.window_holds)."""

    source: str
    terms: tuple[Term, ...]
    distance: int
    start: int = 0


@dataclass(frozen=True)
class ListRef:
    """@name: an OR of the entries of a named term list."""

    source: str
    name: str
    start: int = 0


@dataclass(frozen=True)
class Near:
    """left NEAR/N right: one occurrence of each with at most N-1 words between them."""

    source: str
    left: Node
    right: Node
    distance: int
    start: int = 0


@dataclass(frozen=True)
class Scoped:
    """field:atom: restricts every term below to one document field."""

    source: str
    field: str
    child: Node
    start: int = 0


@dataclass(frozen=True)
class And:
    source: str
    children: tuple[Node, ...]
    start: int = 0


@dataclass(frozen=True)
class Or:
    source: str
    children: tuple[Node, ...]
    start: int = 0


@dataclass(frozen=True)
class Not:
    source: str
    child: Node
    start: int = 0


Node = Term | Proximity | ListRef | Near | Scoped | And | Or | Not
