"""Fingerprints are a stored format: these literals were computed by the code that wrote the
first stored signatures, so any rewrite of watcher.neardup (for speed, say) must reproduce them
bit for bit. Cases sit on the edges where a faster path is most likely to differ: empty and
too-short text, the MIN_SHINGLES and MIN_BODY_SHINGLES thresholds, duplicate shingles, fewer
words than a shingle, non-Latin scripts, placeholder words, bodies crossing the numpy block
size, and non-default schemes (including bands that do not divide the permutations).

If a literal fails, the stored format changed: that needs a VERSION bump, not new literals.
The literals are version 2's (the lead weighted, issue #15); version 1's were replaced with
that bump, as band keys salted with the version keep old stories from ever being compared."""

from __future__ import annotations

import hashlib
import random
import struct
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from watcher import neardup as cluster
from watcher.errors import ParseError
from watcher.ingest.extract import page_text
from watcher.ingest.parse import parse_feed
from watcher.neardup import Fingerprint, Scheme, fingerprint
from watcher.rules import normalise_text

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _vocab(seed: int, size: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_LETTERS) for _ in range(rng.randint(2, 9))) for _ in range(size)]


def _text(seed: int, words: int, vocab_size: int = 3000) -> str:
    """Pseudo-English: words from a fixed vocabulary, with punctuation and capitals."""
    vocab = _vocab(seed, vocab_size)
    rng = random.Random(seed + 1)
    out = []
    for i in range(words):
        w = rng.choice(vocab)
        if rng.random() < 0.1:
            w = w.capitalize()
        if rng.random() < 0.08:
            w += rng.choice([",", ".", ";", "'s", ":"])
        out.append(w)
        if i % 37 == 36:
            out.append("\n")
    return " ".join(out)


def _numbered(n: int) -> str:
    """n distinct words, so exactly n - 2 distinct 3-word shingles."""
    return " ".join(f"w{i}" for i in range(n))


RU = (
    "Армения и Азербайджан договорились возобновить переговоры о делимитации границы в "
    "следующем месяце, говорится в совместном заявлении министерств иностранных дел двух стран. "
    "Комиссии во главе с вице-премьерами Мгером Григоряном и Шахином Мустафаевым встретятся "
    "12 декабря в приграничном селе Тех."
)
HY = (
    "Հայաստանը և Ադրբեջանը պայմանավորվել են հաջորդ ամիս վերսկսել սահմանազատման "
    "բանակցությունները, ասված է երկու երկրների արտաքին գործերի նախարարությունների համատեղ "
    "հայտարարության մեջ։ Փոխվարչապետներ Մհեր Գրիգորյանի և Շահին Մուստաֆաևի գլխավորած "
    "հանձնաժողովները կհանդիպեն դեկտեմբերի 12-ին Տեղ գյուղում։"
)
TITLE = "Armenia and Azerbaijan agree to resume border delimitation talks"

CASES: dict[str, tuple[str, str, Scheme]] = {
    "empty": ("", "", cluster.DEFAULT),
    "whitespace": ("  \n\t ", " \n ", cluster.DEFAULT),
    "headline only, generic": ("Breaking news", "", cluster.DEFAULT),
    "one word": ("Live", "updates", cluster.DEFAULT),
    "under MIN_SHINGLES": ("", _numbered(5), cluster.DEFAULT),  # 3 shingles
    "at MIN_SHINGLES": ("", _numbered(6), cluster.DEFAULT),  # 4 shingles
    "title at MIN_TITLE_WORDS": ("Pashinyan meets Aliyev today", "", cluster.DEFAULT),
    "title below MIN_TITLE_WORDS": ("Pashinyan meets Aliyev", "", cluster.DEFAULT),
    "headline only": (TITLE, "", cluster.DEFAULT),
    "body below MIN_BODY_SHINGLES": (TITLE, _numbered(26), cluster.DEFAULT),  # 24 shingles
    "body at MIN_BODY_SHINGLES": (TITLE, _numbered(27), cluster.DEFAULT),  # 25 shingles
    "repeated line": (TITLE, "Live updates follow. " * 40, cluster.DEFAULT),
    "short feed item": (TITLE, _text(1, 40), cluster.DEFAULT),
    "short feed item 2": ("UPDATE 1-" + TITLE, _text(2, 42), cluster.DEFAULT),
    "long article": (TITLE, _text(3, 1000), cluster.DEFAULT),
    "2000 words": (TITLE, _text(4, 2000), cluster.DEFAULT),
    "20000 words, many numpy blocks": (TITLE, _text(5, 20000, 20000), cluster.DEFAULT),
    # at and just past multiples of the numpy block size (cluster._CHUNK, 2048 then 512); the
    # one extra shingle happens to lower no minimum, so each pair shares its digest
    "512 shingles": ("", _numbered(512 + 2), cluster.DEFAULT),
    "513 shingles": ("", _numbered(513 + 2), cluster.DEFAULT),
    "2048 shingles": ("", _numbered(2048 + 2), cluster.DEFAULT),
    "2049 shingles": ("", _numbered(2049 + 2), cluster.DEFAULT),
    "cyrillic": ("", RU, cluster.DEFAULT),
    "cyrillic short with title": ("Армения и Азербайджан", RU[:120], cluster.DEFAULT),
    "armenian": ("", HY, cluster.DEFAULT),
    "mixed scripts": (TITLE, HY + "\n" + RU + "\n" + _text(6, 300), cluster.DEFAULT),
    "placeholders and CJK": (
        "ـ ـ ـ news ـ",
        "東京 で 会議 ـ Karabakh’s talks ـ resumed 日本語の文章 Nagorno-Karabakh peace. " * 3,
        cluster.DEFAULT,
    ),
    "digits and possessives": (
        "Azerbaijan's 2023 offensive",
        "In 2023, Azerbaijan’s army took 100,000 people's homes; 12-ин 3.14 ½ ⅓ x² " * 4,
        cluster.DEFAULT,
    ),
    "scheme 1-word shingles": (TITLE, _text(7, 200), Scheme(shingle_words=1)),
    "scheme 2 words, 64 permutations": (TITLE, _text(8, 200), Scheme(2, 64, 16)),
    "scheme bands not dividing": (TITLE, _text(9, 200), Scheme(3, 128, 5)),
    "scheme one band": (TITLE, _text(10, 200), Scheme(3, 16, 1)),
    "scheme rows of one": (TITLE, _text(11, 200), Scheme(3, 32, 32)),
    "scheme shingle longer than text": ("", "one two three four five six", Scheme(9, 128, 42)),
}


def digest(fp: Fingerprint) -> str:
    data = cluster.pack(fp.signature) + repr(fp.bands).encode() + b"|" + fp.title_key.encode()
    return hashlib.sha256(data).hexdigest()


GOLDEN: dict[str, str] = {
    "empty": "1865e272484e48cfb21dcfc86fe2dd32af4a85a6839541edc013c6a929e21910",
    "whitespace": "1865e272484e48cfb21dcfc86fe2dd32af4a85a6839541edc013c6a929e21910",
    "headline only, generic": "1865e272484e48cfb21dcfc86fe2dd32af4a85a6839541edc013c6a929e21910",
    "one word": "1865e272484e48cfb21dcfc86fe2dd32af4a85a6839541edc013c6a929e21910",
    "under MIN_SHINGLES": "1865e272484e48cfb21dcfc86fe2dd32af4a85a6839541edc013c6a929e21910",
    "at MIN_SHINGLES": "27c41d3fcb459b1f94c0595172c1594c4b129be55d84773b836bea2235adef31",
    "title at MIN_TITLE_WORDS": "56c3eefab202de627f5ad317db11f5a0dbe017e919e2142b4fef9610e4260536",
    "title below MIN_TITLE_WORDS": "1865e272484e48cfb21dcfc86fe2dd32af4a85a6839541edc013c6a929e21910",
    "headline only": "862bc960540964ed2031e210bbe187e5d1ae52e79d99969140a24fe75f4476a5",
    "body below MIN_BODY_SHINGLES": "e5d06e65aff1f7c82a55bee5acbd0cbbd60bf7f10b2114dc2dcedce90e82e317",
    "body at MIN_BODY_SHINGLES": "d99f0bcd81fa9db6ca16ffbd2bdc2cc6e416bf9b637c784fd2aeabbe32f57aaf",
    "repeated line": "84e4bcf43761ce23cd369575fc677e09a63623c74537735328ad282cba2e4413",
    "short feed item": "e1e858fd698d1ebc3affaff9db7c5db080a6854715d4ead4dae81306210bc9fb",
    "short feed item 2": "441909c7ec6a37f95ee1ed1d904b55372dc464f070a8ed808e7384c7ef0cbda6",
    "long article": "6fa001e8f70fc89121979948db75908e7820a6930c5508212f2d8862284970f3",
    "2000 words": "9293c669bda702c7e6e55acba2b0b1b96166fd1d0576a14a98b31d3dc01becb6",
    "20000 words, many numpy blocks": "fe830765d46f4c0aa82d918010da65cd4f259e3828f386f54907217ceec84bcc",
    "512 shingles": "4bd2b214b3bb533265086c83d72202860908d668627cbee2d0f75eea16b10935",
    "513 shingles": "4bd2b214b3bb533265086c83d72202860908d668627cbee2d0f75eea16b10935",
    "2048 shingles": "999dc9ba68f30083d28683e21bd873573fc1443e128fe69d6d4bd1d3b7b65b0d",
    "2049 shingles": "999dc9ba68f30083d28683e21bd873573fc1443e128fe69d6d4bd1d3b7b65b0d",
    "cyrillic": "9167dc48eac54e76cee21241188cf8cedd1c0f6d73c4534bf2ff4185bce1be56",
    "cyrillic short with title": "3d57d74fa2c7b2708df78ee8a797647f320f36aafb81ad4d1e26fb31d24c1594",
    "armenian": "f64753d85b378bbac6fe15ef6555fa07d6dea67eb4e0487706d996631864cd96",
    "mixed scripts": "cf697e754e0d143901e6c76d15beb8f3f13a2f75985a673a364967af584c49b7",
    "placeholders and CJK": "7856b7c61f5b21768ad10f1df93f783317d01ab9d57171b5a4b22467f7f01a60",
    "digits and possessives": "637fab4aa76e7540a5d9d008d827ad94c333625416a2574bb76b5dbbd44b6d15",
    "scheme 1-word shingles": "407c74c11d7c4db95eaab444e40f6bb4182ab6638b7531331093158ee5ad37dd",
    "scheme 2 words, 64 permutations": "6de0e3ef8f7521d047e0e6b191d186916318c363c9c97c8bd2337457a42c1ada",
    "scheme bands not dividing": "ae2f72abb7c21e5ca00835714debf5ab5297d708ef31db2893a1339189c94f19",
    "scheme one band": "2063da7cbb35b6438e06f0c7ffc8fc576d09f5bf5ab4d51bf99db9f3aa81967b",
    "scheme rows of one": "80e2a80468a7d5244e84f59ffea6b58649489eead56e1fafd14f86482306338c",
    "scheme shingle longer than text": "1865e272484e48cfb21dcfc86fe2dd32af4a85a6839541edc013c6a929e21910",
}


def test_every_case_has_a_literal() -> None:
    assert set(GOLDEN) == set(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_fingerprint_matches_stored_format(name: str) -> None:
    title, body, scheme = CASES[name]
    fp = fingerprint(title, body, scheme)
    assert digest(fp) == GOLDEN[name]
    if fp.bands:
        again = cluster.from_signature(list(fp.signature), fp.title_key, scheme)
        assert again == fp
        assert cluster.unpack(cluster.pack(fp.signature)) == fp.signature
        assert cluster.band_keys(list(fp.signature), scheme) == fp.bands


# --- against the original implementation, on random text ------------------------------------


def reference(
    title: str, body: str, scheme: Scheme
) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """The first implementation, which wrote the first stored signatures, kept as the spec:
    normalise_text per call, blake2b constructed per shingle and per band, struct.pack per
    band, the shift applied to every value."""

    def words(text: str) -> list[str]:
        return [w for w in normalise_text(text).split() if w != "_"]

    def shingles(ws: list[str], k: int) -> set[bytes]:
        if not ws:
            return set()
        k = min(k, len(ws))
        return {" ".join(ws[i : i + k]).encode() for i in range(len(ws) - k + 1)}

    n = scheme.permutations
    title_words = words(title)
    title_key = " ".join(title_words) if len(title_words) >= cluster.MIN_TITLE_WORDS else ""
    found = shingles(words(body), scheme.shingle_words)
    if len(found) < cluster.MIN_BODY_SHINGLES:
        found = shingles(title_words + words(body), scheme.shingle_words)
    else:  # version 2: the lead's shingles again, LEAD_COPIES times, marked by copy
        lead_words: list[str] = []
        for line in body.splitlines():
            lead_words += words(line)
            if len(lead_words) >= cluster.LEAD_MIN_WORDS:
                break
        lead = shingles(lead_words[: cluster.LEAD_WORDS], scheme.shingle_words)
        found |= {b"%d\x00%s" % (c, s) for c in range(cluster.LEAD_COPIES) for s in lead}
    if len(found) < cluster.MIN_SHINGLES:
        return (cluster.EMPTY,) * n, (), title_key
    raw = b"".join(
        hashlib.blake2b(b"watcher-cluster-perm-%d" % i, digest_size=16).digest() for i in range(n)
    )
    both = np.frombuffer(raw, dtype="<u8").reshape(n, 2)
    a, b = both[:, 0] | np.uint64(1), both[:, 1].copy()
    x = np.frombuffer(
        b"".join(hashlib.blake2b(s, digest_size=8).digest() for s in found), dtype="<u8"
    )
    with np.errstate(over="ignore"):
        values = (x[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)
    signature = tuple(int(v) for v in values.min(axis=0))
    rows = n // scheme.bands
    salt = struct.pack("<HHHH", cluster.VERSION, scheme.shingle_words, n, scheme.bands)
    bands = []
    for band in range(scheme.bands):
        data = struct.pack(f"<I{rows}I", band, *signature[band * rows : (band + 1) * rows])
        digest = hashlib.blake2b(data, digest_size=8, salt=salt).digest()
        bands.append(int.from_bytes(digest, "little", signed=True))
    return signature, tuple(bands), title_key


# Words that fold in every way normalise knows: case, accents, scripts, possessives, hyphens,
# ligatures, fractions, placeholders (tatweel), CJK characters, astral letters, combining marks.
WORDS = [
    *["Armenia", "Azerbaijan", "agree", "to", "resume", "border", "talks", "in", "the", "of"],
    *["and", "a", "2023", "100,000", "Karabakh’s", "Karabakh's", "O'Brien’s", "foo_bar"],
    *["Nagorno-Karabakh", "NATO—EU", "x²", "Карабах", "вице-премьер", "Мирзоян", "Ղարաբաղ"],
    *["Փաշինյան", "Ալիև", "İlham", "Əliyev", "Qarabağ", "ﬁnal", "½", "ǅemal", "ـ", "ـــ"],
    *["北京", "タ", "한국", "😀", "𝐀𝐁", "Ա\u0306", "e\u0301", "कि", "ʼs", "Karabakhʼs", "ß", "ı"],
]
GAPS = [" ", " ", " ", "\n", ", ", ". ", " — ", "\xa0", "\u3000", "\x1c", "\u200b", " ' "]


def random_text(rng: random.Random, vocab: list[str], longest: int) -> str:
    out = []
    for _ in range(rng.randint(0, longest)):
        out += [rng.choice(vocab), rng.choice(GAPS)]
    return "".join(out)


SCHEMES = [cluster.DEFAULT, Scheme(1, 64, 16), Scheme(2, 128, 5), Scheme(4, 32, 32)]


@pytest.mark.parametrize("ascii_only", [True, False], ids=["ascii", "any script"])
def test_fingerprint_equals_the_original_on_random_text(ascii_only: bool) -> None:
    rng = random.Random(2026 + ascii_only)
    vocab = [w for w in WORDS if w.isascii()] if ascii_only else WORDS
    # a small vocabulary repeats shingles; lengths straddle MIN_SHINGLES and MIN_BODY_SHINGLES
    vocab += [f"w{i}" for i in range(40)]
    compared = fingerprinted = 0
    for i in range(400):
        scheme = SCHEMES[i % len(SCHEMES)]
        title = random_text(rng, vocab, 12)
        body = random_text(rng, vocab, rng.choice([6, 30, 60, 400]))
        fp = fingerprint(title, body, scheme)
        assert (fp.signature, fp.bands, fp.title_key) == reference(title, body, scheme), (
            title,
            body,
            scheme,
        )
        compared += 1
        fingerprinted += bool(fp.bands)
    assert compared == 400 and 100 < fingerprinted < 400


# --- against the original implementation, on every corpus text --------------------------------

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def corpus_texts() -> list[tuple[str, str, str]]:
    """(where, title, body) for every entry of every corpus feed, fingerprinted as prepare
    does (content, else summary), and for every corpus page's visible text."""
    texts = []
    for feed in sorted((CORPUS / "feeds").glob("*")):
        try:
            parsed = parse_feed(feed.read_bytes(), f"https://feeds.example.org/{feed.name}", NOW)
        except ParseError:
            continue
        for i, e in enumerate(parsed.entries):
            texts.append((f"{feed.name}#{i}", e.title, e.content or e.summary))
            if e.content and e.summary:
                texts.append((f"{feed.name}#{i} summary", e.title, e.summary))
    for page in sorted((CORPUS / "pages").glob("*.html")):
        extracted = page_text(page.read_bytes())
        texts.append((page.name, extracted.title, extracted.text))
    return texts


@pytest.mark.skipif(not (CORPUS / "feeds").is_dir(), reason="shared corpus not present")
def test_fingerprint_equals_the_original_on_every_corpus_text() -> None:
    """Real copy in every script the corpus has, one line or many paragraphs, short feed items
    and whole pages: any fast path of `fingerprint` must give the original's values."""
    texts = corpus_texts()
    fingerprinted = {"short": 0, "lead": 0}
    for where, title, body in texts:
        fp = fingerprint(title, body)
        assert (fp.signature, fp.bands, fp.title_key) == reference(title, body, cluster.DEFAULT), (
            where
        )
        if fp.bands:
            long = len(cluster._shingles(cluster._words(body), 3)) >= cluster.MIN_BODY_SHINGLES
            fingerprinted["lead" if long else "short"] += 1
    assert len(texts) > 1500 and min(fingerprinted.values()) > 100, fingerprinted


@pytest.mark.parametrize("name", list(CASES))
def test_edge_cases_equal_the_original(name: str) -> None:
    title, body, scheme = CASES[name]
    fp = fingerprint(title, body, scheme)
    assert (fp.signature, fp.bands, fp.title_key) == reference(title, body, scheme)
