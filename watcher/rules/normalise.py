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
  as E, so "Aliyev" does not find "Əliyev"; list both spellings), Paşinyan = Pasinyan (not
  Pashinyan). Case folding turns the Armenian ligature և into ե + ւ, so Ալիև = Ալիեւ =
  "aliew". Punctuation between words does not break a phrase ("peace, talks").
- ``cased`` (rules with ``case_sensitive: true``): like fold but without case folding, so
  accents and scripts still fold (NATO finds NATO and НАТО, not Nato).
- ``exact`` (``=TERM``): NFKC only: case, accents and script must be as written.
- ``script`` (``^TERM``, and short terms, see `compile`): NFKC, case folding and accents
  stripped, but no transliteration, so a term only finds words written in its own script
  (мир* finds мирный, not "mirror").
- ``name`` (``TERM+``, see `names`): fold, then the name folding that lets one name's
  spellings across scripts meet: ə -> a, ç -> ch, ş -> sh before transliteration, then
  dzh -> j, kh -> h, x -> h, iy -> i, ye -> e, ew -> ev, ow -> u, and y after a vowel and
  before a consonant -> i. So Aliyev = Алиев = Ալիև = Əliyev ("aliev"), Pashinyan = Paşinyan
  = Пашинян = Փաշինյան, Yerevan = Ереван = Երևան, Azerbaijan = Азербайджан, İlham = Ильхам.

A word that normalises to nothing (for example a lone tatweel) becomes the placeholder "_",
which no term can produce, so word positions are identical in every mode.

Speed: the word regex is the reference, and three faster paths are proven equal to it by
tests on random text: `split_words` for text below U+3040; `ascii_fold` for text whose letters
are all ASCII (most English copy), which folds a whole field in a few C-level passes; and
`fold_tokens` for any other text, one cached lookup per whitespace-separated token, so a
story in Armenian or Russian costs a split and a dict lookup per token once its words have
been seen.
"""

from __future__ import annotations

import itertools
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Final

from anyascii import anyascii

FOLD: Final = "fold"
CASED: Final = "cased"
EXACT: Final = "exact"
SCRIPT: Final = "script"
NAME: Final = "name"
MODES: Final = (FOLD, CASED, EXACT, SCRIPT, NAME)

PLACEHOLDER: Final = "_"
APOSTROPHES: Final = "'’‘ʼʻ`´′＇"
_CJK: Final = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CACHE_LIMIT: Final = 500_000
_PLANE: Final = 0x10000


def _ranges(codepoints: Iterable[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for cp in codepoints:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return ranges


def _class(codepoints: Iterable[int]) -> str:
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in _ranges(codepoints)
    )


@cache
def _word_classes() -> tuple[str, str]:
    r"""Character classes for "word character", below and above U+FFFF: letters and digits
    (what \w accepts, less "_", Han/kana and apostrophes) plus combining marks, which \w
    leaves out (so Devanagari or NFD-encoded words stay whole).

    Two classes because re compiles a class of BMP characters to a bitmap (fast) but one that
    reaches beyond U+FFFF to a list of ranges (several times slower per character). Computed
    once, lazily, from the running Python's Unicode database (a few tens of ms).

    Code points are scanned a plane at a time: the whole range as one string is 1.1 million
    one-character strings on the way, about 100 MB at the peak; in the daemon, which compiles
    the rules among its long-lived start-up objects, the allocator kept much of it resident.
    """
    excluded = re.compile(f"[{_CJK}{re.escape(APOSTROPHES)}_]")
    word = re.compile(r"\w+")
    chars: set[int] = set()
    for base in range(0, sys.maxunicode + 1, _PLANE):
        plane = "".join(map(chr, range(base, min(base + _PLANE, sys.maxunicode + 1))))
        chars.update(
            base + i
            for m in word.finditer(plane)
            for i in range(m.start(), m.end())
            if not excluded.match(plane[i])
        )
    # Combining marks live below U+20000 apart from the variation selectors supplement.
    candidates = itertools.chain(range(0x20000), range(0xE0100, 0xE01F0))
    chars.update(cp for cp in candidates if unicodedata.category(chr(cp))[0] == "M")
    ordered = sorted(chars)
    return _class(c for c in ordered if c <= 0xFFFF), _class(c for c in ordered if c > 0xFFFF)


@cache
def word_pattern() -> re.Pattern[str]:
    """The word tokenizer; one regex so findall (fast) and finditer (spans) agree exactly.

    Unrolled as first-char, BMP-run, (astral-char, BMP-run)* so that the common case is one
    tight bitmap loop; the astral class is only consulted for astral characters.
    """
    bmp, astral = _word_classes()
    astral_char = f"[\U00010000-\U0010ffff](?<=[{astral}])"
    possessive_s = f"(?<=[{bmp}][{re.escape(APOSTROPHES)}])[sS](?![{bmp}]|{astral_char})"
    word = f"(?:[{bmp}]|{astral_char})[{bmp}]*(?:{astral_char}[{bmp}]*)*"
    return re.compile(f"[{_CJK}]|(?!{possessive_s}){word}")


_FAST_BELOW: Final = "\u3040"
"""Text whose characters all lie below this (Latin, Cyrillic, Armenian, Greek, Arabic, Indic...,
but no CJK, Hangul, emoji) can take the fast tokenizer path."""


@cache
def _beyond_fast() -> re.Pattern[str]:
    return re.compile(f"[{_FAST_BELOW}-\U0010ffff]")  # one range: a fast C scan


@cache
def _separators() -> re.Pattern[str]:
    """Characters below _FAST_BELOW that always separate words (punctuation, symbols, "_"),
    except whitespace and apostrophes, which split() and the word regex handle."""
    bmp, _ = _word_classes()
    word = re.compile(f"[{bmp}{re.escape(APOSTROPHES)}\\s]")
    seps = [cp for cp in range(ord(_FAST_BELOW)) if not word.match(chr(cp))]
    return re.compile(f"[{_class(seps)}]+")


def split_words(text: str) -> list[str]:
    """The words of `text`, exactly as `word_pattern().findall(text)` would give them.

    The regex costs ~0.3 us per word, most of an article's scan. For longer text without CJK or
    astral characters, punctuation is blanked with one substitution and str.split does the
    rest in C; only tokens that are not plain alphanumeric runs (apostrophes, combining
    marks) go through the regex, which gives the same words because every cut made here is
    at a character the regex also treats as a separator.
    """
    if len(text) < 64 or _beyond_fast().search(text) or "ʼ" in text or "ʻ" in text:
        return word_pattern().findall(text)  # (ʼ and ʻ are apostrophes that isalnum accepts)
    tokens = _separators().sub(" ", text).split()
    if all(map(str.isalnum, tokens)):
        return tokens
    findall = word_pattern().findall
    words: list[str] = []
    for token in tokens:
        if token.isalnum():
            words.append(token)
        else:
            words.extend(findall(token))
    return words


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


def _script(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", word).casefold())
    s = "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace())
    return unicodedata.normalize("NFC", s) or PLACEHOLDER


_NAME_BEFORE: Final = str.maketrans(
    {"ə": "a", "Ə": "a", "ç": "ch", "Ç": "ch", "ş": "sh", "Ş": "sh"}
)
_NAME_AFTER: Final = (
    (re.compile("dzh"), "j"),
    (re.compile("kh|x"), "h"),
    (re.compile("iy"), "i"),
    (re.compile("ye"), "e"),
    (re.compile("ew"), "ev"),
    (re.compile("ow"), "u"),
    (re.compile("(?<=[aeiou])y(?![aeiou])"), "i"),
)


def _name(word: str) -> str:
    """Why a separate fold: agencies spell one name differently in each script (Aliyev, Алиев,
    Ալիև, Əliyev), which plain transliteration keeps apart; these rewrites are safe for
    names, whose list a user chose, but would merge unrelated common words."""
    s = _fold(word.translate(_NAME_BEFORE))
    for pattern, replacement in _NAME_AFTER:
        s = pattern.sub(replacement, s)
    return s


_FUNCS: Final[dict[str, Callable[[str], str]]] = {
    FOLD: _fold,
    CASED: _cased,
    EXACT: _exact,
    SCRIPT: _script,
    NAME: _name,
}
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


_NON_ASCII_APOSTROPHES: Final = "".join(
    c for c in APOSTROPHES if not c.isascii() and not c.isalnum()
)


@cache
def _not_ascii_fold() -> re.Pattern[str]:
    """Any character that is neither ASCII nor a separator/apostrophe below _FAST_BELOW."""
    seps = _separators().pattern[1:-2]  # the class body of "[...]+"
    apos = re.escape(_NON_ASCII_APOSTROPHES)
    spaces = "".join(c for c in map(chr, range(0x80, ord(_FAST_BELOW))) if c.isspace())
    return re.compile(f"[^\x00-\x7f{seps}{apos}{spaces}]")


# Starts with the apostrophe so the regex engine can skip to candidates quickly.
_POSSESSIVE_ASCII = re.compile(r"['`](?<=[A-Za-z0-9]['`])[sS](?![A-Za-z0-9])")
"""An apostrophe and possessive s; replaced by apostrophe + space, keeping the length."""
_ASCII_FOLD_TABLE = bytes(
    ord(chr(b).lower()) if chr(b).isascii() and chr(b).isalnum() else ord(" ") for b in range(256)
)


def ascii_fold(text: str) -> bytes | None:
    """Fold-mode text, one byte per character of `text` (so offsets carry over), for text
    whose letters and digits are all ASCII; None for any other text. Words are the runs of
    non-space bytes: ``b" ".join(ascii_fold(t).split())`` equals the fold-mode words of t.

    Built with a few C-level passes instead of per-word work, and equal to
    normalise_words(split_words(text), FOLD) by construction (and by test): for ASCII letters
    and digits NFKC, casefold and anyascii are all just lower(); every other character allowed
    here separates words (encode turns the non-ASCII ones into "?", the table into spaces);
    and the possessive "s" is blanked first, as the word regex skips it.
    """
    if not text.isascii() and _not_ascii_fold().search(text):
        return None
    for apostrophe in _NON_ASCII_APOSTROPHES:
        if apostrophe in text:
            text = text.replace(apostrophe, "'")
    if "'" in text or "`" in text:
        text = _POSSESSIVE_ASCII.sub("' ", text)
    return text.encode("ascii", "replace").translate(_ASCII_FOLD_TABLE)


def ascii_fold_stream(text: str) -> str | None:
    """The fold-mode stream (" w1 w2 ... ") from ascii_fold, or None."""
    folded = ascii_fold(text)
    if folded is None:
        return None
    return (b" " + b" ".join(folded.split()) + b" ").decode("ascii")


_TOKEN_CHARS: Final = 40
"""Longer whitespace-separated tokens (unspaced CJK sentences, URLs) are folded every time
rather than cached: they rarely recur and would crowd out the tokens that do."""
_TOKEN_CACHE_LIMIT: Final = 200_000
"""Tokens carry punctuation ("Karabakh," and "Karabakh."), so there are more of them than words;
a smaller bound keeps the two caches together to a few tens of MB."""
_TOKEN_CACHES: Final[dict[str, dict[str, str]]] = {mode: {} for mode in MODES}
_IRREGULAR: Final = "\n"
"""Cached for a token with a word that normalises to several tokens; no fold contains it."""


def fold_tokens(tokens: Sequence[str], mode: str) -> list[str] | None:
    """Per whitespace token of a text (``text.split()``), its words' normalised forms joined
    by spaces ("" for a token without words); None if some word normalises to several tokens,
    as the word positions of the joined stream would then drift from the text's.

    Whitespace never belongs to a word and the word regex looks at no character beyond the
    word (and the apostrophe before a possessive s), so the words of a text are the words of
    its tokens, in order. Caching by raw token ("Karabakh," and all) makes the common case one
    dict lookup per token, and spares tokenising it with the word regex.
    """
    memo = _TOKEN_CACHES[mode]
    try:
        folded = list(map(memo.__getitem__, tokens))
    except KeyError:
        folded = [memo[t] if t in memo else _fold_token(t, mode, memo) for t in tokens]
    return None if _IRREGULAR in folded else folded


def _fold_token(token: str, mode: str, memo: dict[str, str]) -> str:
    # A plain alphanumeric token is one word (as in split_words); most are, and the regex
    # costs more than the fold of a cached word.
    plain = token.isalnum() and (
        token.isascii() or (max(token) < _FAST_BELOW and "ʼ" not in token and "ʻ" not in token)
    )
    norm = normalise_words([token] if plain else word_pattern().findall(token), mode)
    folded = _IRREGULAR if any(" " in w for w in norm) else " ".join(norm)
    if len(token) <= _TOKEN_CHARS:
        if len(memo) >= _TOKEN_CACHE_LIMIT:
            memo.clear()
        memo[token] = folded
    return folded


def clear_caches() -> None:
    """Forget every cached fold (benchmarks measure the cost of unseen words this way)."""
    for memo in (*_CACHES.values(), *_TOKEN_CACHES.values()):
        memo.clear()


def normalise_text(text: str, mode: str = FOLD) -> str:
    """Normalised tokens of `text` joined by single spaces (handy for tests and debugging)."""
    return " ".join(normalise_words(split_words(text), mode))


def fold_text(text: str) -> str:
    """`normalise_text(text)`, by the cheapest exact path: what a story's search text is made
    with. Its word regex and per-word folds took as long as matching the story against a
    thousand terms; ascii_fold (English copy) and fold_tokens (other scripts, one cached
    lookup per token) give the same words, and are tested equal to it on random text."""
    folded = ascii_fold(text)
    if folded is not None:
        return b" ".join(folded.split()).decode("ascii")
    pieces = fold_tokens(text.split(), FOLD)
    if pieces is not None:
        return " ".join(filter(None, pieces))
    return normalise_text(text)
