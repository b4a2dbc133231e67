"""One scanned field: where each term occurred, as word spans and character offsets.

The automata (`automaton`) find where occurrences end in a normalised stream; this turns those
ends back into word indices and original characters, lazily, only for what proximity or a
snippet asks about. Split from `automaton` so building the automata and reading their output
can be read (and measured) apart.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, compress, islice, repeat
from operator import add, methodcaller

from watcher.rules.normalise import FOLD, word_pattern

Span = tuple[int, int]
"""(first word index, last word index) of one occurrence, inclusive."""

_SPAN = methodcaller("span")
_COUNTED = 8
"""Hits per field located by counting in C before building a table of every offset."""
_MARKER_ROUNDS = 16
_SPACES = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c != " ")
"""Whitespace as str.split() knows it, less the plain space."""


class FieldScan:
    """One field of one document after scanning.

    `occ` maps each pattern id found to the stream offsets where its occurrences end; turning
    those into word spans costs a binary search each, so it is done lazily, per pattern, only
    for what proximity or a snippet needs. Most hits are never looked at again: membership
    (`pid in occ`) is all boolean evaluation needs.
    """

    def __init__(self, text: str, meta: ScanMeta) -> None:
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
        # Token path: text.split(), each token's fold per mode, and what locates a word.
        self._tokens: list[str] = []
        self._pieces: dict[str, list[str]] = {}
        self._joined: dict[str, str] = {}
        self._word_at: dict[int, tuple[str, int]] = {}  # word -> (mode, offset in stream)
        self._ends: list[int] = []  # words in tokens[:i + 1], for each i
        self._token_starts: list[int] = []
        self._single_spaced: bool | None = None
        self._spaces = ""  # the kinds of whitespace in the text
        self._located = 0
        self._counted = 0
        self.snippets: dict[Span, tuple[str, str, int, int]] = {}
        """Cut snippets by span, so rules sharing a hit share the work."""

    def _span(self, pid: int, end: int) -> Span:
        meta = self._meta
        mode = meta.modes[pid]
        starts = self._starts.get(mode)
        if starts is None and self._counted < _COUNTED and mode not in self._norm:
            # One word per token: the spaces before a word number its index plus one. A
            # count in C per hit beats listing every word's offset when hits are few.
            self._counted += 1
            offset = end - meta.lengths[pid] + 2
            first = self.streams[mode].count(" ", 0, offset) - 1
            last = first + meta.extra[pid]
            self._word_at[first] = (mode, offset)
            self._word_at[last] = (mode, end - meta.backs[pid] - meta.last[pid] + 1)
            return first, last
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
        whitespace token (`_token_word`). Otherwise words are located with the word regex
        lazily, in chunks, only as far as the last one asked for: documents can be megabytes
        and hits are mostly early.
        """
        if self._folded is not None:
            if not self._starts_ends and self._located < _COUNTED:
                self._located += 1
                first = self._ascii_word(span[0])
                if first is not None:
                    last = first if span[1] == span[0] else self._ascii_word(span[1])
                    if last is not None:
                        return first[0], last[1]
            if not self._starts_ends:
                pieces = self._folded.split(b" ")
                lengths = list(map(len, pieces))
                offsets = accumulate(map((1).__add__, lengths), initial=0)
                starts = list(compress(offsets, pieces))
                ends = list(map(add, starts, compress(lengths, pieces)))
                self._starts_ends = (starts, ends)
            starts, ends = self._starts_ends
            return starts[span[0]], ends[span[1]]
        if self._pieces:
            first = self._token_word(span[0])
            return first[0], (first if span[1] == span[0] else self._token_word(span[1]))[1]
        chars = self._chars
        if len(chars) <= span[1]:
            if self._words is None:
                self._words = word_pattern().finditer(self.text)
            wanted = span[1] + 1 - len(chars)
            chars.extend(map(_SPAN, islice(self._words, max(wanted, 2 * len(chars), 256))))
        return chars[span[0]][0], chars[span[1]][1]

    def _ascii_word(self, index: int) -> tuple[int, int] | None:
        """Offsets of word `index` in the ASCII fast path's folded bytes, counted in C: the
        word's stream offset less the words and single spaces before it is the letters
        before it; adding every space before it is a fixed point, reached in a few rounds
        (None if not, or the word's stream offset is unknown)."""
        at = self._word_at.get(index)
        folded = self._folded
        if at is None or at[0] != FOLD or folded is None:
            return None
        letters = at[1] - 1 - index
        position = letters + index
        counted = spaces = 0  # positions only grow: count each stretch once
        for _ in range(_MARKER_ROUNDS):
            spaces += folded.count(b" ", counted, position)
            counted, moved = position, letters + spaces
            if moved == position:
                break
            position = moved
        else:
            return None
        position = _skip(folded, position)  # the fixed point may sit on the spaces before
        end = folded.find(b" ", position)
        return position, len(folded) if end < 0 else end

    def _token_word(self, index: int) -> tuple[int, int]:
        """Character offsets of word `index`: which token holds it, where that token starts
        in the text, and where the word lies in the token (the word regex on one token)."""
        at = self._word_at.get(index)
        found = self._locate(*at) if at is not None and at[0] in self._pieces else None
        token, within = found if found is not None else self._locate_by_table(index)
        start = self._token_start(token)
        word = next(islice(word_pattern().finditer(self._tokens[token]), within, None))
        return start + word.start(), start + word.end()

    def _locate(self, mode: str, offset: int) -> tuple[int, int] | None:
        """(token, word within it) of the word at `offset` in the mode's stream, by counting
        in C: the stream is the tokens' folds joined by spaces, so joined by newlines they
        tell token boundaries from word boundaries. A wordless token is left out of the
        stream; here it is a marker, skipped by a short fixed-point search (None if long)."""
        joined = self._joined.get(mode)
        if joined is None:
            joined = "\n".join(self._pieces[mode])
            while "\n\n" in joined:
                joined = joined.replace("\n\n", "\n\x01\n")
            if joined[:1] == "\n":
                joined = "\x01" + joined
            if joined[-1:] == "\n":
                joined += "\x01"
            self._joined[mode] = joined
        position = offset - 1  # the stream's leading space
        if "\x01" in joined:  # each marker and its newline are two characters more
            counted = markers = 0
            for _ in range(_MARKER_ROUNDS):
                markers += joined.count("\x01", counted, position)
                counted, moved = position, offset - 1 + 2 * markers
                if moved == position:
                    break
                position = moved
            else:
                return None
            while joined.startswith("\x01", position):
                position += 2
        token_start = joined.rfind("\n", 0, position) + 1
        return joined.count("\n", 0, position), joined.count(" ", token_start, position)

    def _locate_by_table(self, index: int) -> tuple[int, int]:
        """(token, word within it) from a running count of words per token."""
        ends = self._ends
        if not ends:  # a token's fold has one space fewer than words, "" has none
            pieces = next(iter(self._pieces.values()))
            counts = map(add, map(str.count, pieces, repeat(" ")), map(bool, pieces))
            ends.extend(accumulate(counts))
        token = bisect_right(ends, index)
        return token, index - (ends[token - 1] if token else 0)

    def _token_start(self, token: int) -> int:
        """Where a token starts in the text: a sum of lengths if one whitespace character
        separates tokens (the usual case), else a table of every token's offset."""
        starts = self._token_starts
        if starts:
            return starts[token]
        tokens = self._tokens
        text = self.text
        if self._single_spaced is None:
            spaces = len(text) - sum(map(len, tokens))
            self._single_spaced = spaces == len(tokens) - 1
            self._spaces = _kinds(text, spaces)
        self._located += 1
        if self._located <= _COUNTED:
            before = sum(map(len, islice(tokens, token)))
            if self._single_spaced:
                return before + token
            # letters before the token plus every whitespace character before it: a fixed
            # point, as in _ascii_word
            position = before + token
            counted = spaces = 0
            for _ in range(_MARKER_ROUNDS):
                for kind in self._spaces:
                    spaces += text.count(kind, counted, position)
                counted, moved = position, before + spaces
                if moved == position:
                    return _skip(text, position)
                position = moved
        if self._single_spaced:
            starts.extend(accumulate(map((1).__add__, map(len, tokens)), initial=0))
        else:  # every whitespace character made a space, then split as ascii_fold
            flat = self.text
            for space in _SPACES:
                if space in flat:
                    flat = flat.replace(space, " ")
            pieces = flat.split(" ")
            offsets = accumulate(map((1).__add__, map(len, pieces)), initial=0)
            starts.extend(compress(offsets, pieces))
        return starts[token]


def _kinds(text: str, spaces: int) -> str:
    """The whitespace characters in `text`, given how many there are: the common ones are
    counted first, so the search usually stops after one or two passes."""
    kinds = ""
    for c in " \n" + _SPACES.replace("\n", ""):
        if spaces <= 0:
            break
        found = text.count(c)
        if found:
            kinds += c
            spaces -= found
    return kinds


def _skip(text: str | bytes, position: int) -> int:
    """The first position from `position` on that is not whitespace."""
    while True:
        chunk = text[position : position + 64]
        rest = chunk.lstrip()
        position += len(chunk) - len(rest)
        if rest or not chunk:
            return position


@dataclass(frozen=True)
class ScanMeta:
    """Per pattern id: its mode, key length, 0/1 trailing space, and whether it is one word."""

    modes: tuple[str, ...]
    lengths: tuple[int, ...]
    backs: tuple[int, ...]
    single: tuple[bool, ...]
    extra: tuple[int, ...]
    """Words after the first (a prefix key has no trailing space)."""
    last: tuple[int, ...]
    """Length of the last word."""
