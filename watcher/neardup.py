"""Near-duplicate stories: the same wire copy reprinted by another agency. Pure; no I/O, no clock.

Why MinHash over word shingles: agencies reprint wire copy with a new headline, a dateline, a
dropped paragraph and a few words changed. Those edits leave most 3-word runs of the body
intact, so the Jaccard similarity of the shingle sets stays high, while two distinct stories,
even on the same subject, share only a few stock phrases. Text is normalised with the
matcher's own `normalise_text`, so case, accents and script fold the same way as in rules: a
reprint in capitals, without diacritics or transliterated to Latin keeps its shingles.

Why not an in-memory LSH index (datasketch's MinHashLSH): clustering must survive restarts
and work across processes sharing one database. So the index is a table and this module only
computes what goes into it. The store is expected to do:

    fp = fingerprint(title, body)
    -- candidates: stories sharing at least one band key within the window (the newest few
    -- per key, those sharing the most keys first: watcher.store.clusters.band_candidates)
    SELECT story_id, signature FROM story_bands JOIN stories USING (story_id)
     WHERE band_key IN (:fp.bands) AND seen_at > now - 72h
    -- confirm each candidate, then insert one story_bands row per key of fp.bands
    same_story(fp, from_signature(unpack(signature)))

A fingerprint without bands (too short, see below) gets no candidates and no rows.

and, separately, merge stories whose `title_key` is equal and non-empty within the window.

The signature is a storage format: stored values must compare with ones computed after an
upgrade. So the hash family is defined here (blake2b of each shingle, then multiply-shift
permutations whose constants come from blake2b of a fixed label), not taken from a library
whose defaults may change (datasketch changed its hash values in 1.1.3 and again in 2.0), and
nothing depends on Python's salted hash() or numpy's random generators. Changing any
parameter must bump VERSION: `pack` writes it, `unpack` refuses other versions, and band keys
are salted with it, so old stories quietly stop being candidates instead of matching wrongly.

The lead weighs more: the shingles of the body's first paragraph (first paragraphs until
LEAD_MIN_WORDS words, at most LEAD_WORDS) count LEAD_COPIES more times (as marked copies).
A new development on a running story is written as a new lead above the last story's
background paragraphs (TIME's two Greenland tariff stories, 19 hours apart, share 0.59 of
their shingles), while a reprint keeps the wire's lead; weighting the lead pulls the first
apart (0.45) and keeps the second together (benchmarks/bench_cluster.py: no same-topic pair
of the corpus feeds merged, 96% of edited copies still joined, against 97% unweighted; of the
settings tried, 60 words and 12 copies kept the widest margin). Version 2 added it.

Short texts: a body with fewer than MIN_BODY_SHINGLES distinct shingles (a feed summary, a
headline-only item, a page that repeats one line) is shingled together with its title, and
`same_story` then asks for SHORT_THRESHOLD. A text with fewer than MIN_SHINGLES in all (about
six words) is not fingerprinted at all (no bands, never `same_story`), because "Breaking
news" or "Live updates" would otherwise merge every item that carries them. Those can still
cluster through the store's link and title rules; `title_key` is empty for titles too short
to be distinctive.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from operator import eq
from typing import Final

import numpy as np
import numpy.typing as npt

from watcher.rules import normalise_text
from watcher.rules.normalise import FOLD, ascii_fold, fold_tokens

VERSION: Final = 2
SHINGLE_WORDS: Final = 3
PERMUTATIONS: Final = 128
BANDS: Final = 42
THRESHOLD: Final = 0.5
SHORT_THRESHOLD: Final = 0.75
MIN_BODY_SHINGLES: Final = 25
MIN_SHINGLES: Final = 4
MIN_TITLE_WORDS: Final = 4
LEAD_WORDS: Final = 60
LEAD_MIN_WORDS: Final = 20
LEAD_COPIES: Final = 12
EMPTY: Final = 0xFFFFFFFF  # the minimum over no shingles; a signature of all EMPTY never matches

_CHUNK: Final = 512  # shingles per numpy block: bounds memory, and 512 x 128 x 8 bytes stay in L2
_U64: Final = np.dtype("<u8")
_U32: Final = np.dtype("<u4")

Signature = tuple[int, ...]


@dataclass(frozen=True)
class Scheme:
    """The parameters that define a signature. Only the default is ever stored; others exist
    so the benchmark can compare settings with the very code that runs in production."""

    shingle_words: int = SHINGLE_WORDS
    permutations: int = PERMUTATIONS
    bands: int = BANDS

    def __post_init__(self) -> None:
        if self.shingle_words < 1 or not 1 <= self.bands <= self.permutations:
            raise ValueError("need shingle_words >= 1 and 1 <= bands <= permutations")


DEFAULT: Final = Scheme()


@dataclass(frozen=True)
class Fingerprint:
    """What the store keeps per story: `signature` (see pack), one row per band key, the
    title key. `bands` is empty when the text is too short to compare."""

    signature: Signature
    bands: tuple[int, ...]
    title_key: str = ""


def fingerprint(title: str, body: str, scheme: Scheme = DEFAULT) -> Fingerprint:
    """The story's fingerprint; the body carries the identity, since headlines get rewritten."""
    title_words = _words(title)
    title_key = b" ".join(title_words).decode() if len(title_words) >= MIN_TITLE_WORDS else ""
    body_words = _words(body)
    shingles = _shingles(body_words, scheme.shingle_words)
    lead: set[bytes] = set()
    if len(shingles) < MIN_BODY_SHINGLES:
        shingles = _shingles(title_words + body_words, scheme.shingle_words)
    else:
        # one paragraph (most feed items) is its own lead: its words need no second fold
        lead_words = body_words if len(body.splitlines()) == 1 else _lead(body)
        lead = _shingles(lead_words[:LEAD_WORDS], scheme.shingle_words)
    if len(shingles) < MIN_SHINGLES:
        return Fingerprint((EMPTY,) * scheme.permutations, (), title_key)
    packed = _minhash(shingles, scheme.permutations, lead).tobytes()
    signature: Signature = _u32s(scheme.permutations).unpack(packed)
    return Fingerprint(signature, _band_keys(packed, scheme), title_key)


def from_signature(
    signature: Sequence[int], title_key: str = "", scheme: Scheme = DEFAULT
) -> Fingerprint:
    """A stored story's fingerprint again; bands are a function of the signature alone."""
    sig = tuple(signature)
    bands = band_keys(sig, scheme) if not _is_empty(sig) else ()
    return Fingerprint(sig, bands, title_key)


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of the two shingle sets (standard error about
    sqrt(J(1-J)/permutations), so 0.04 at J = 0.5 with 128 permutations)."""
    if len(a.signature) != len(b.signature) or _is_empty(a.signature) or _is_empty(b.signature):
        return 0.0
    agree: int = sum(map(eq, a.signature, b.signature))
    return agree / len(a.signature)


def same_story(a: Fingerprint, b: Fingerprint, threshold: float = THRESHOLD) -> bool:
    """True when one is a reprint of the other.

    THRESHOLD = 0.5 comes from benchmarks/bench_cluster.py: distinct corpus pages stay below
    0.03, lightly edited copies mostly above 0.55, and with 42 bands of 3 rows a pair at 0.5
    shares a band key with probability 0.996, so the store's lookup rarely loses it first.
    Below MIN_BODY_SHINGLES (told from the signature itself, so nothing else is stored) the
    bar is SHORT_THRESHOLD: on a handful of shingles one word moves the estimate a lot, and
    headlines built on one template ("Live: Russia-Ukraine war, day 1001" / "day 1002")
    share 0.6 of them.
    """
    if min(_size(a.signature), _size(b.signature)) < MIN_BODY_SHINGLES:
        threshold = max(threshold, SHORT_THRESHOLD)
    return similarity(a, b) >= threshold


def band_keys(signature: Sequence[int], scheme: Scheme = DEFAULT) -> tuple[int, ...]:
    """One signed 64-bit key per band (fits an SQL BIGINT). The band's index, the scheme and
    VERSION are hashed in, so equal rows in different bands or schemes never collide. Values
    left over when bands do not divide the permutations only count towards similarity."""
    used = len(signature) // scheme.bands * scheme.bands
    return _band_keys(_u32s(used).pack(*signature[:used]), scheme)


def pack(signature: Sequence[int]) -> bytes:
    """Compact column value: a VERSION byte, then 4 little-endian bytes per permutation."""
    return bytes([VERSION]) + struct.pack(f"<{len(signature)}I", *signature)


def unpack(data: bytes) -> Signature:
    """Inverse of pack; refuses other versions, whose values would compare as noise."""
    if not data or data[0] != VERSION or (len(data) - 1) % 4:
        raise ValueError(f"not a version {VERSION} cluster signature")
    return struct.unpack(f"<{(len(data) - 1) // 4}I", data[1:])


def _words(text: str) -> list[bytes]:
    """The words of normalise_text(text) without its "_" placeholders, UTF-8 encoded.

    Built the way the matcher builds its streams, cheapest exact path first (each is tested
    equal to the general one in test_rules_normalise): `ascii_fold` when the letters are
    ASCII, where no placeholder can arise; else one cached fold per whitespace token; else
    normalise_text, the slowest (six times ascii_fold on an English feed summary).
    Bytes because shingles are hashed as bytes: encoding the text once is cheaper than once
    per shingle, and bytes.split() agrees with str.split() here, as folded words are
    [a-z0-9]+ (or "_") joined by single spaces.
    """
    folded = ascii_fold(text)
    if folded is not None:
        return folded.split()
    pieces = fold_tokens(text.split(), FOLD)
    joined = " ".join(filter(None, pieces)) if pieces is not None else normalise_text(text)
    words = joined.encode().split()
    return [w for w in words if w != b"_"] if "_" in joined else words


def _lead(body: str) -> list[bytes]:
    """The words of the first paragraph, or of the first few if it is short (a dateline or
    a one-line standfirst): where a reprint keeps the wire's words and a new story has its
    own."""
    words: list[bytes] = []
    for line in body.splitlines():
        words += _words(line)
        if len(words) >= LEAD_MIN_WORDS:
            break
    return words


def _shingles(words: list[bytes], k: int) -> set[bytes]:
    if not words:
        return set()
    k = min(k, len(words))
    if k == 1:
        return set(words)
    return set(map(b" ".join, zip(*(words[i:] for i in range(k)), strict=False)))


def _minhash(
    shingles: Collection[bytes], permutations: int, lead: Collection[bytes] = ()
) -> npt.NDArray[np.uint32]:
    """Minimum over the shingles of h_i(x) = (a_i * x + b_i mod 2^64) >> 32, x the shingle's
    64-bit blake2b: multiply-shift hashing, a_i odd, vectorised over all i at once. Each of
    the lead's shingles counts LEAD_COPIES more times, as b"%d\x00%s" % (copy, shingle).

    Returned as little-endian uint32, so that tobytes gives what pack and band_keys pack.
    The shift is taken on the minima only, by reading their high halves: it is monotone, so
    the minimum of the shifted values is the shifted minimum, and a pass over the whole
    (shingles x permutations) block is saved. Each shingle is hashed from a copy of a
    prepared blake2b state: same digest, without the constructor's keyword parsing, which
    took a third of the hashing time. A lead copy is hashed from a state that has already
    read its b"%d\x00" mark (blake2b of the parts in turn is blake2b of the whole), so the
    marked copies are never built: formatting them cost as much as hashing them. Nor are they
    put in one set with the body's: a minimum is the same over a multiset.
    """
    a, b = _permutations(permutations)
    digests: list[bytes] = []
    append = digests.append
    for state, texts in ((_SHINGLE_HASH, shingles), *((s, lead) for s in _LEAD_STATES)):
        copy = state.copy
        for text in texts:
            h = copy()
            h.update(text)
            append(h.digest())
    x = np.frombuffer(b"".join(digests), dtype=_U64)
    if not len(x):
        return np.full(permutations, EMPTY, dtype=_U32)
    low = _least(x[:_CHUNK], a, b)
    for start in range(_CHUNK, len(x), _CHUNK):
        np.minimum(low, _least(x[start : start + _CHUNK], a, b), out=low)
    # as little-endian (a no-op on most hosts), the high half of each value is its 2nd uint32
    high: npt.NDArray[np.uint32] = low.astype(_U64, copy=False).view(_U32)[1::2]
    return high


def _least(
    x: npt.NDArray[np.uint64], a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    # uint64 array arithmetic wraps modulo 2^64 silently (only numpy scalars warn)
    values = np.multiply.outer(x, a)
    values += b
    least: npt.NDArray[np.uint64] = np.minimum.reduce(values)
    return least


def _band_keys(packed: bytes, scheme: Scheme) -> tuple[int, ...]:
    """band_keys of a signature packed as little-endian uint32, which fingerprint gets from
    numpy in one call instead of a struct.pack of 128 Python ints. Band i hashes what
    ``struct.pack(f"<I{rows}I", i, *rows_of_band_i)`` gives: its index is already in the
    prepared state (see _band_states), its rows are one slice of `packed`."""
    width = len(packed) // 4 // scheme.bands * 4
    rows_of_bands = _slices(scheme.bands, width).unpack_from(packed)
    digests = []
    for state, data in zip(_band_states(scheme), rows_of_bands, strict=True):
        h = state.copy()
        h.update(data)
        digests.append(h.digest())
    keys: tuple[int, ...] = _i64s(scheme.bands).unpack(b"".join(digests))
    return keys


_SHINGLE_HASH: Final = hashlib.blake2b(digest_size=8)
"""Only ever copied, never updated, so one instance serves every call and thread."""


def _marked(copy: int) -> hashlib.blake2b:
    state = _SHINGLE_HASH.copy()
    state.update(b"%d\x00" % copy)
    return state


_LEAD_STATES: Final = tuple(map(_marked, range(LEAD_COPIES)))
"""Per lead copy, the state after its mark; like _SHINGLE_HASH, only ever copied."""


@cache
def _band_states(scheme: Scheme) -> tuple[hashlib.blake2b, ...]:
    """Per band, the salted state after its index; like _SHINGLE_HASH, only ever copied."""
    states = []
    for band in range(scheme.bands):
        state = hashlib.blake2b(digest_size=8, salt=_salt(scheme))
        state.update(struct.pack("<I", band))
        states.append(state)
    return tuple(states)


@cache
def _slices(count: int, width: int) -> struct.Struct:
    return struct.Struct(f"{width}s" * count)


@cache
def _u32s(n: int) -> struct.Struct:
    return struct.Struct(f"<{n}I")


@cache
def _i64s(n: int) -> struct.Struct:
    return struct.Struct(f"<{n}q")


@cache
def _permutations(n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Permutation constants from blake2b of a fixed label: the same in every process,
    Python and numpy version."""
    raw = b"".join(
        hashlib.blake2b(b"watcher-cluster-perm-%d" % i, digest_size=16).digest() for i in range(n)
    )
    both = np.frombuffer(raw, dtype=_U64).reshape(n, 2)
    return both[:, 0] | np.uint64(1), both[:, 1].copy()


def _salt(scheme: Scheme) -> bytes:
    return struct.pack("<HHHH", VERSION, scheme.shingle_words, scheme.permutations, scheme.bands)


def _size(signature: Sequence[int]) -> float:
    """Estimated number of shingles: the minimum of n uniform values averages 1 / (n + 1)."""
    return len(signature) * (EMPTY + 1) / (sum(signature) + len(signature)) - 1


def _is_empty(signature: Sequence[int]) -> bool:
    return all(v == EMPTY for v in signature)
