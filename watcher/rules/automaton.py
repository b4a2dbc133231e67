"""Every term of every rule in one Aho-Corasick automaton per normalisation mode.

A field's words are normalised and joined with single spaces, with a space at each end. A
whole-word term becomes the key " tok tok " and a prefix term " tok" (no trailing space), so
word boundaries are ordinary characters of the key and one pass over the stream finds every
occurrence of every term at once, whatever the number of terms. Each occurrence is turned
back into word indices (first and last word), which snippets map to the original characters
and proximity measures distance in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from watcher.rules.fieldscan import FieldScan, ScanMeta
from watcher.rules.names import name_forms
from watcher.rules.normalise import (
    FOLD,
    MODES,
    NAME,
    PLACEHOLDER,
    ascii_fold,
    fold_tokens,
    normalise_words,
    split_words,
)
from watcher.rules.syntax import Word

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
        return self._add(mode, key, prefix)

    def add_name(self, words: tuple[Word, ...]) -> list[int]:
        """A name term: one whole-word pattern per inflected form of its last word (if that
        word is marked as a name), all in the name mode."""
        *head, last = words
        forms = name_forms(last.text) if last.name else [last.text]
        pids = [self._add(NAME, *pattern_key((*head, Word(form)), NAME)) for form in forms]
        return list(dict.fromkeys(pids))

    def _add(self, mode: str, key: str, prefix: bool) -> int:
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
        self._meta = ScanMeta(
            modes=tuple(p.mode for p in patterns),
            lengths=tuple(len(p.key) for p in patterns),
            backs=tuple(0 if p.prefix else 1 for p in patterns),
            single=tuple(" " not in p.key.strip() for p in patterns),
            extra=tuple(p.key.count(" ") - (1 if p.prefix else 2) for p in patterns),
            last=tuple(len(p.key.split()[-1]) for p in patterns),
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
                    scan._pieces[mode] = pieces
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
