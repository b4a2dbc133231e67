"""Every term of every rule in one Aho-Corasick automaton per normalisation mode.

A field's words are normalised and joined with single spaces, with a space at each end. A
whole-word term becomes the key " tok tok " and a prefix term " tok" (no trailing space), so
word boundaries are ordinary characters of the key and one pass over the stream finds every
occurrence of every term at once, whatever the number of terms. Each occurrence is turned
back into word indices (first and last word), which snippets map to the original characters
and proximity measures distance in.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import ahocorasick

from watcher.rules.normalise import (
    MODES,
    PLACEHOLDER,
    normalise_words,
    split_words,
    word_pattern,
)
from watcher.rules.syntax import Word

Span = tuple[int, int]
"""(first word index, last word index) of one occurrence, inclusive."""

MIN_PREFIX_CHARS = 2


class PatternError(ValueError):
    """A term that cannot become a pattern (no letters, too short a prefix)."""


@dataclass(frozen=True)
class Pattern:
    mode: str
    key: str
    prefix: bool


@dataclass
class PatternTable:
    """Distinct (mode, key) pairs -> dense ids, shared by all rules so a term used by fifty
    rules is searched once."""

    patterns: list[Pattern] = field(default_factory=list)
    _ids: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, words: tuple[Word, ...], mode: str) -> int:
        key, prefix = pattern_key(words, mode)
        ident = self._ids.get((mode, key))
        if ident is None:
            ident = self._ids[(mode, key)] = len(self.patterns)
            self.patterns.append(Pattern(mode, key, prefix))
        return ident


def pattern_key(words: Iterable[Word], mode: str) -> tuple[str, bool]:
    """The automaton key for a term: its words normalised exactly as document text is."""
    tokens: list[str] = []
    prefix = False
    for word in words:
        normalised = normalise_words(split_words(word.text), mode)
        if not normalised:
            raise PatternError(f"{word.text!r} has no letters or digits")
        tokens.extend(normalised)
        prefix = word.prefix
    if all(t == PLACEHOLDER for t in tokens):
        raise PatternError("the term has no letters or digits that can be searched")
    if prefix and len(tokens[-1]) < MIN_PREFIX_CHARS:
        raise PatternError(
            f"a prefix wildcard needs at least {MIN_PREFIX_CHARS} letters before '*'"
        )
    return " " + " ".join(tokens) + ("" if prefix else " "), prefix


class FieldScan:
    """One field of one document after scanning: occurrences per pattern id."""

    def __init__(self, text: str, occ: dict[int, list[Span]]) -> None:
        self.text = text
        self.occ = occ
        self._spans: list[tuple[int, int]] = []
        self._words: Iterator[re.Match[str]] | None = None
        self.snippets: dict[Span, tuple[str, str, int, int]] = {}
        """Cut snippets by span, so rules sharing a hit share the work."""

    def char_span(self, span: Span) -> tuple[int, int]:
        """Original character offsets of a word span. Words are located lazily, only as far
        as the last one asked for: hits are mostly early, documents can be megabytes."""
        spans = self._spans
        if len(spans) <= span[1]:
            if self._words is None:
                self._words = word_pattern().finditer(self.text)
            for m in self._words:
                spans.append(m.span())
                if len(spans) > span[1]:
                    break
        return spans[span[0]][0], spans[span[1]][1]


class Automata:
    """The compiled automata, one per mode that any rule uses."""

    def __init__(self, table: PatternTable) -> None:
        self._by_mode: dict[str, Any] = {}
        for pid, pattern in enumerate(table.patterns):
            auto = self._by_mode.get(pattern.mode)
            if auto is None:
                auto = self._by_mode[pattern.mode] = ahocorasick.Automaton()
            back = 0 if pattern.prefix else 1
            single = " " not in pattern.key.strip()
            auto.add_word(pattern.key, (pid, len(pattern.key), back, single))
        for auto in self._by_mode.values():
            auto.make_automaton()
        self.pattern_count = len(table.patterns)

    def scan(self, fields: Mapping[str, str]) -> dict[str, FieldScan]:
        return {name: self._scan_field(text) for name, text in fields.items()}

    def _scan_field(self, text: str) -> FieldScan:
        occ: dict[int, list[Span]] = {}
        if not text or not self._by_mode:
            return FieldScan(text, occ)
        words = split_words(text)
        for mode in MODES:
            auto = self._by_mode.get(mode)
            if auto is None:
                continue
            norm = normalise_words(words, mode)
            stream = " " + " ".join(norm) + " "
            starts: list[int] | None = None
            for end, (pid, length, back, single) in auto.iter(stream):
                if starts is None:  # word start offsets in the stream, built on the first hit
                    starts = list(accumulate(map((1).__add__, map(len, norm)), initial=1))
                first = bisect_right(starts, end - length + 2) - 1
                last = first if single else bisect_right(starts, end - back) - 1
                spans = occ.get(pid)
                if spans is None:
                    occ[pid] = [(first, last)]
                else:
                    spans.append((first, last))
        return FieldScan(text, occ)
