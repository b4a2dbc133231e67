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
    -- candidates: stories sharing at least one band key within the window
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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from operator import eq
from typing import Final

import numpy as np
import numpy.typing as npt

from watcher.rules import normalise_text

VERSION: Final = 1
SHINGLE_WORDS: Final = 3
PERMUTATIONS: Final = 128
BANDS: Final = 42
THRESHOLD: Final = 0.5
SHORT_THRESHOLD: Final = 0.75
MIN_BODY_SHINGLES: Final = 25
MIN_SHINGLES: Final = 4
MIN_TITLE_WORDS: Final = 4
EMPTY: Final = 0xFFFFFFFF  # the minimum over no shingles; a signature of all EMPTY never matches

_CHUNK: Final = 2048  # shingles per numpy block: bounds memory on huge bodies
_U64: Final = np.dtype("<u8")

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
    title_key = " ".join(title_words) if len(title_words) >= MIN_TITLE_WORDS else ""
    shingles = _shingles(_words(body), scheme.shingle_words)
    if len(shingles) < MIN_BODY_SHINGLES:
        shingles = _shingles(title_words + _words(body), scheme.shingle_words)
    if len(shingles) < MIN_SHINGLES:
        return Fingerprint((EMPTY,) * scheme.permutations, (), title_key)
    signature = _minhash(shingles, scheme.permutations)
    return Fingerprint(signature, band_keys(signature, scheme), title_key)


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
    rows = len(signature) // scheme.bands
    salt = _salt(scheme)
    keys = []
    for band in range(scheme.bands):
        chunk = signature[band * rows : (band + 1) * rows]
        data = struct.pack(f"<I{rows}I", band, *chunk)
        digest = hashlib.blake2b(data, digest_size=8, salt=salt).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return tuple(keys)


def pack(signature: Sequence[int]) -> bytes:
    """Compact column value: a VERSION byte, then 4 little-endian bytes per permutation."""
    return bytes([VERSION]) + struct.pack(f"<{len(signature)}I", *signature)


def unpack(data: bytes) -> Signature:
    """Inverse of pack; refuses other versions, whose values would compare as noise."""
    if not data or data[0] != VERSION or (len(data) - 1) % 4:
        raise ValueError(f"not a version {VERSION} cluster signature")
    return struct.unpack(f"<{(len(data) - 1) // 4}I", data[1:])


def _words(text: str) -> list[str]:
    return [w for w in normalise_text(text).split() if w != "_"]


def _shingles(words: list[str], k: int) -> set[bytes]:
    if not words:
        return set()
    k = min(k, len(words))
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


def _minhash(shingles: set[bytes], permutations: int) -> Signature:
    """Minimum over the shingles of h_i(x) = (a_i * x + b_i mod 2^64) >> 32, x the shingle's
    64-bit blake2b: multiply-shift hashing, a_i odd, vectorised over all i at once."""
    a, b = _permutations(permutations)
    hashes = [hashlib.blake2b(s, digest_size=8).digest() for s in shingles]
    low = np.full(permutations, EMPTY, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(hashes), _CHUNK):
            x = np.frombuffer(b"".join(hashes[start : start + _CHUNK]), dtype=_U64)
            values = (x[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)
            np.minimum(low, values.min(axis=0), out=low)
    return tuple(int(v) for v in low)


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
