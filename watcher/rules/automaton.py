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
import sys
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate, compress, islice, repeat
from operator import add, methodcaller
from typing import Any

import ahocorasick

from watcher.rules.normalise import (
    FOLD,
    MODES,
    PLACEHOLDER,
    ascii_fold,
    fold_tokens,
    normalise_words,
    split_words,
    word_pattern,
)
from watcher.rules.syntax import Word

Span = tuple[int, int]
"""(first word index, last word index) of one occurrence, inclusive."""

MIN_PREFIX_CHARS = 2
_SPAN = methodcaller("span")
_SPACES = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c != " ")
"""Whitespace as str.split() knows it, less the plain space."""


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
    written = 0
    for word in words:
        parts = split_words(word.text)
        written += sum(map(len, parts))
        normalised = normalise_words(parts, mode)
        if not normalised:
            raise PatternError(f"{word.text!r} has no letters or digits")
        tokens.extend(normalised)
        prefix = word.prefix
    if all(t == PLACEHOLDER for t in tokens):
        raise PatternError("the term has no letters or digits that can be searched")
    # Letters counted as written over the whole term: transliteration can shrink a word
    # (Arabic drops vowels) and a Han character is a word of its own.
    if prefix and written < MIN_PREFIX_CHARS:
        raise PatternError(
            f"a prefix wildcard needs at least {MIN_PREFIX_CHARS} letters before '*'"
        )
    return " " + " ".join(tokens) + ("" if prefix else " "), prefix


class FieldScan:
    """One field of one document after scanning.

    `occ` maps each pattern id found to the stream offsets where its occurrences end; turning
    those into word spans costs a binary search each, so it is done lazily, per pattern, only
    for what proximity or a snippet needs. Most hits are never looked at again: membership
    (`pid in occ`) is all boolean evaluation needs.
    """

    def __init__(self, text: str, meta: _Meta) -> None:
        self.text = text
        self.occ: dict[int, list[int]] = {}
        self._meta = meta
        self.streams: dict[str, str] = {}
        self._norm: dict[str, list[str]] = {}
        self._starts: dict[str, list[int]] = {}
        self._spans: dict[int, list[Span]] = {}
        self._chars: list[tuple[int, int]] = []
        self._words: Iterator[re.Match[str]] | None = None
        self._starts_ends: tuple[list[int], list[int]] | None = None
        self._folded: bytes | None = None  # ASCII fast path: words sit at the same offsets
        self._tokens: list[str] = []  # token path: text.split() and each token's fold
        self._pieces: list[str] | None = None
        self._ends: list[int] = []  # words in tokens[:i + 1], for each i
        self._token_starts: list[int] = []
        self.snippets: dict[Span, tuple[str, str, int, int]] = {}
        """Cut snippets by span, so rules sharing a hit share the work."""

    def _span(self, pid: int, end: int) -> Span:
        meta = self._meta
        mode = meta.modes[pid]
        starts = self._starts.get(mode)
        if starts is None:  # word start offsets in that mode's stream
            # Without the word list (the ASCII fast path) every word is one token.
            norm = self._norm.get(mode) or self.streams[mode].split()
            starts = self._starts[mode] = list(
                accumulate(map((1).__add__, map(len, norm)), initial=1)
            )
        first = bisect_right(starts, end - meta.lengths[pid] + 2) - 1
        if meta.single[pid]:
            return first, first
        return first, bisect_right(starts, end - meta.backs[pid]) - 1

    def spans(self, pid: int) -> list[Span]:
        """Every occurrence of a pattern as (first word, last word), in text order."""
        spans = self._spans.get(pid)
        if spans is None:
            ends = self.occ.get(pid, [])
            spans = self._spans[pid] = [self._span(pid, end) for end in ends]
        return spans

    def first_span(self, pid: int) -> Span:
        spans = self._spans.get(pid)
        return spans[0] if spans else self._span(pid, self.occ[pid][0])

    def char_span(self, span: Span) -> tuple[int, int]:
        """Original character offsets of a word span.

        ASCII fast path: the folded bytes keep every character's offset, so all word offsets
        come from one split and a running sum, in C. Token path: the word is found in its
        whitespace token, whose offset is found lazily. Otherwise words are located with the
        word regex lazily, in chunks, only as far as the last one asked for: documents can be
        megabytes and hits are mostly early.
        """
        if self._folded is not None:
            if not self._starts_ends:
                pieces = self._folded.split(b" ")
                lengths = list(map(len, pieces))
                offsets = accumulate(map((1).__add__, lengths), initial=0)
                starts = list(compress(offsets, pieces))
                ends = list(map(add, starts, compress(lengths, pieces)))
                self._starts_ends = (starts, ends)
            starts, ends = self._starts_ends
            return starts[span[0]], ends[span[1]]
        if self._pieces is not None:
            return self._token_word(span[0])[0], self._token_word(span[1])[1]
        chars = self._chars
        if len(chars) <= span[1]:
            if self._words is None:
                self._words = word_pattern().finditer(self.text)
            wanted = span[1] + 1 - len(chars)
            chars.extend(map(_SPAN, islice(self._words, max(wanted, 2 * len(chars), 256))))
        return chars[span[0]][0], chars[span[1]][1]

    def _token_word(self, index: int) -> tuple[int, int]:
        """Character offsets of word `index`, from the token holding it (token path)."""
        pieces = self._pieces
        assert pieces is not None
        ends = self._ends
        if not ends:  # a token's fold has one space fewer than words, "" has none
            counts = map(add, map(str.count, pieces, repeat(" ")), map(bool, pieces))
            ends.extend(accumulate(counts))
        token = bisect_right(ends, index)
        within = index - (ends[token - 1] if token else 0)
        starts = self._token_starts
        if not starts:  # every whitespace character made a space, then split as ascii_fold
            flat = self.text
            for space in _SPACES:
                if space in flat:
                    flat = flat.replace(space, " ")
            pieces = flat.split(" ")
            offsets = accumulate(map((1).__add__, map(len, pieces)), initial=0)
            starts.extend(compress(offsets, pieces))
        word = next(islice(word_pattern().finditer(self._tokens[token]), within, None))
        return starts[token] + word.start(), starts[token] + word.end()


@dataclass(frozen=True)
class _Meta:
    """Per pattern id: its mode, key length, 0/1 trailing space, and whether it is one word."""

    modes: tuple[str, ...]
    lengths: tuple[int, ...]
    backs: tuple[int, ...]
    single: tuple[bool, ...]


class Automata:
    """The compiled automata, one per mode that any rule uses."""

    def __init__(self, table: PatternTable) -> None:
        self._by_mode: dict[str, Any] = {}
        for pid, pattern in enumerate(table.patterns):
            auto = self._by_mode.get(pattern.mode)
            if auto is None:
                auto = self._by_mode[pattern.mode] = ahocorasick.Automaton()
            auto.add_word(pattern.key, pid)
        for auto in self._by_mode.values():
            auto.make_automaton()
        patterns = table.patterns
        self._meta = _Meta(
            modes=tuple(p.mode for p in patterns),
            lengths=tuple(len(p.key) for p in patterns),
            backs=tuple(0 if p.prefix else 1 for p in patterns),
            single=tuple(" " not in p.key.strip() for p in patterns),
        )
        self.pattern_count = len(patterns)

    def scan(self, fields: Mapping[str, str]) -> dict[str, FieldScan]:
        return {name: self._scan_field(text) for name, text in fields.items()}

    def _scan_field(self, text: str) -> FieldScan:
        """Builds each mode's stream the cheapest exact way: ascii_fold for fold-mode text
        whose letters are ASCII, else one cached fold per whitespace token, else (a word that
        folds to several tokens) per word."""
        scan = FieldScan(text, self._meta)
        if not text or not self._by_mode:
            return scan
        occ = scan.occ
        tokens: list[str] | None = None
        for mode in MODES:
            auto = self._by_mode.get(mode)
            if auto is None:
                continue
            stream = None
            if mode == FOLD:
                scan._folded = ascii_fold(text)
                if scan._folded is not None:
                    stream = (b" " + b" ".join(scan._folded.split()) + b" ").decode("ascii")
            if stream is None:
                if tokens is None:
                    tokens = scan._tokens = text.split()
                pieces = fold_tokens(tokens, mode)
                if pieces is not None:
                    scan._pieces = pieces
                    stream = " " + " ".join(filter(None, pieces)) + " "
                else:
                    norm = scan._norm[mode] = normalise_words(split_words(text), mode)
                    stream = " " + " ".join(norm) + " "
            scan.streams[mode] = stream
            for end, pid in auto.iter(stream):
                ends = occ.get(pid)
                if ends is None:
                    occ[pid] = [end]
                else:
                    ends.append(end)
        return scan
