"""One normalisation for document text and rule terms, so a term finds text written in any
script, case or accent, and both sides can never drift apart.

Text is first cut into *words* on the original string (so every word keeps its character span
for snippets): a word is a run of letters, digits and combining marks. Everything else
separates words, in particular hyphens and apostrophes of every kind ("Nagorno-Karabakh" is
the two words Nagorno, Karabakh; "Azerbaijan’s" and "Azerbaijan's" are the word Azerbaijan,
because a lone possessive "s" after an apostrophe is dropped). Each Han or kana character is a
word of its own, since those scripts do not separate words with spaces; Thai, Lao, Khmer and
Burmese are not segmented (a whole run is one word), a known limit.

Each word is then mapped, per *mode*, to a normalised form:

- ``fold`` (default): NFKC, full case folding, then anyascii transliteration to Latin, which
  also strips accents, then lower case; apostrophes that the transliteration inserts
  (Armenian aspirates, the Russian soft sign) are removed and any other non-alphanumeric output
  splits the word. So Карабах = Karabakh, Qarabağ = Qarabag = QARABAĞ, İlham = ILHAM = ılham =
  ilham, Փաշինյան = Pashinyan, Ղարաբաղ = Gharabagh (not Karabakh: anyascii spells the
  Armenian letter Ղ as "Gh"), Алиев = Aliev (not Aliyev), Əliyev = Eliyev (anyascii spells Ə
  as E, so "Aliyev" does not find "Əliyev"; list both spellings).
- ``cased`` (rules with ``case_sensitive: true``): like fold but without case folding, so
  accents and scripts still fold (NATO finds NATO and НАТО, not Nato).
- ``exact`` (``=TERM``): NFKC only: case, accents and script must be as written.

A word that normalises to nothing (for example a lone tatweel) becomes the placeholder "_",
which no term can produce, so word positions are identical in every mode.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache
from typing import Final

from anyascii import anyascii

FOLD: Final = "fold"
CASED: Final = "cased"
EXACT: Final = "exact"
MODES: Final = (FOLD, CASED, EXACT)

PLACEHOLDER: Final = "_"
APOSTROPHES: Final = "'’‘ʼʻ`´′＇"
_CJK: Final = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CACHE_LIMIT: Final = 500_000


@cache
def _mark_class() -> str:
    """Combining marks that Python's \\w leaves out (so Devanagari or NFD words stay whole).

    Computed once, lazily, from the running Python's Unicode database (about 0.2 s).
    """
    ranges: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if unicodedata.category(ch)[0] == "M" and not ch.isalnum():
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


@cache
def word_pattern() -> re.Pattern[str]:
    """The word tokenizer; one regex so findall (fast) and finditer (spans) agree exactly."""
    apos = re.escape(APOSTROPHES)
    letter = f"[^\\W_{_CJK}{apos}]"
    marks = f"[{_mark_class()}]"
    possessive_s = f"(?<=[^\\W_][{apos}])[sS](?![^\\W_]|{marks})"
    return re.compile(f"[{_CJK}]|(?!{possessive_s})(?:{letter}|{marks})+")


def split_words(text: str) -> list[str]:
    return word_pattern().findall(text)


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in word_pattern().finditer(text)]


_DROP_TRANSLIT_APOS = re.compile(r"['`]")
_NON_ALNUM_LOWER = re.compile(r"[^a-z0-9]+")
_NON_ALNUM_CASED = re.compile(r"[^A-Za-z0-9]+")


def _fold(word: str) -> str:
    s = anyascii(unicodedata.normalize("NFKC", word).casefold()).lower()
    s = _NON_ALNUM_LOWER.sub(" ", _DROP_TRANSLIT_APOS.sub("", s)).strip()
    return s or PLACEHOLDER


def _cased(word: str) -> str:
    s = anyascii(unicodedata.normalize("NFKC", word))
    s = _NON_ALNUM_CASED.sub(" ", _DROP_TRANSLIT_APOS.sub("", s)).strip()
    return s or PLACEHOLDER


def _exact(word: str) -> str:
    s = " ".join(unicodedata.normalize("NFKC", word).split())
    return s or PLACEHOLDER


_FUNCS: Final[dict[str, Callable[[str], str]]] = {FOLD: _fold, CASED: _cased, EXACT: _exact}
_CACHES: Final[dict[str, dict[str, str]]] = {mode: {} for mode in MODES}


def normalise_word(word: str, mode: str) -> str:
    """One word's normalised form; may contain spaces when the word yields several tokens."""
    memo = _CACHES[mode]
    try:
        return memo[word]
    except KeyError:
        pass
    if len(memo) >= _CACHE_LIMIT:  # hostile input with endless distinct words: bound memory
        memo.clear()
    result = memo[word] = _FUNCS[mode](word)
    return result


def normalise_words(words: Sequence[str], mode: str) -> list[str]:
    """Normalise many words; the common all-cached case runs as one comprehension."""
    memo = _CACHES[mode]
    try:
        return [memo[w] for w in words]
    except KeyError:
        return [normalise_word(w, mode) for w in words]


def normalise_text(text: str, mode: str = FOLD) -> str:
    """Normalised tokens of `text` joined by single spaces (handy for tests and debugging)."""
    return " ".join(normalise_words(split_words(text), mode))
