"""Fingerprints are a stored format: these literals were computed by the code that wrote the
first stored signatures, so any rewrite of watcher.neardup (for speed, say) must reproduce them
bit for bit. Cases sit on the edges where a faster path is most likely to differ: empty and
too-short text, the MIN_SHINGLES and MIN_BODY_SHINGLES thresholds, duplicate shingles, fewer
words than a shingle, non-Latin scripts, placeholder words, bodies crossing the numpy block
size, and non-default schemes (including bands that do not divide the permutations).

If a literal fails, the stored format changed: that needs a VERSION bump, not new literals."""

from __future__ import annotations

import hashlib
import random
import struct

import numpy as np
import pytest

from watcher import neardup as cluster
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
    "empty": "7cfa14ceeb022875ebc559a78783b86abe38d16b12b19f2bbd14855d211d0007",
    "whitespace": "7cfa14ceeb022875ebc559a78783b86abe38d16b12b19f2bbd14855d211d0007",
    "headline only, generic": "7cfa14ceeb022875ebc559a78783b86abe38d16b12b19f2bbd14855d211d0007",
    "one word": "7cfa14ceeb022875ebc559a78783b86abe38d16b12b19f2bbd14855d211d0007",
    "under MIN_SHINGLES": "7cfa14ceeb022875ebc559a78783b86abe38d16b12b19f2bbd14855d211d0007",
    "at MIN_SHINGLES": "a5be75e4f20ca04ed0cabff5586c0195b812bd52194f968467154b1e60f47174",
    "title at MIN_TITLE_WORDS": "c4a1ce2110741e460713c0e81635378423427d24a6b32fac43e9801f29c067c9",
    "title below MIN_TITLE_WORDS": "7cfa14ceeb022875ebc559a78783b86abe38d16b12b19f2bbd14855d211d0007",
    "headline only": "a3868da332b8809cd02cd75c4aaf41875e2c57abfea95d1eaf48293fc147c516",
    "body below MIN_BODY_SHINGLES": "a5dbe4f43c7dcf0b05ef374ba7a2e7bc66bb4d938ffe887b101816bb14711998",
    "body at MIN_BODY_SHINGLES": "72c8fe0824074186f81ec9a2bb2eb919af093f50006f5229805308706b57156d",
    "repeated line": "30aaabda965968a7c1a6bd4030c6b4f16955ac838c06755acf0545427f676c99",
    "short feed item": "259ea0d163ea6922d80af16760bde8b41fd44ab391a5687176f56134ebb4661d",
    "short feed item 2": "0eb48d0e1b7cbeb327683a9141679e75cf3b186d864ae148232ab2112c42e289",
    "long article": "b233a4e6405708b3be9be238de55b5a36cc3836f05fd1f2f90632f203bffc952",
    "2000 words": "98df6877c8a3e1888bb5d7392d51eed5855479e1505c2a0149a95bdd7fa9e5b1",
    "20000 words, many numpy blocks": "7bd79700a32e941ab1f44e3ae7d9e99b641e3b08c8a2cd09131d08a271737362",
    "512 shingles": "91977a459623428b9c2b2c6a9b452d11153dbf8b349798895f7b8632ec06ec70",
    "513 shingles": "91977a459623428b9c2b2c6a9b452d11153dbf8b349798895f7b8632ec06ec70",
    "2048 shingles": "0546d8ac7cfa1fb1042b3383bc60b034bb633ae81b9917af4c635d891c1242d9",
    "2049 shingles": "0546d8ac7cfa1fb1042b3383bc60b034bb633ae81b9917af4c635d891c1242d9",
    "cyrillic": "8fe71e8253bc281b39d5ec6dd57077768ef0283979bd5f7959675fa90f8a5020",
    "cyrillic short with title": "b70dea2c8891bf57ef04b16867683290922894e7043fa7f7bb81aebbf15ee8f7",
    "armenian": "bcd3d64c502eadf22350a505e212264c9e8bb7c58aa2fc2b26d5eb6ce1ad36d3",
    "mixed scripts": "e808f640a245f7ea4feb18c9bace5660c75ea0278f0969a0bbce70163218f1fe",
    "placeholders and CJK": "c9b1c4fa62574f79c0e75258769cde6418f4a4b743b23b36132434407dae133f",
    "digits and possessives": "20c70fbabf8ffeb6212ae7f46007d559aea08a994b5905a95d50ffd64522d8a2",
    "scheme 1-word shingles": "e136ede337354521bf07a06a6ca7d94c149fdcf248b8488470542145313a8f99",
    "scheme 2 words, 64 permutations": "32d7c5c051354921ffd7b187a9805dcc0f5e107080924e41ca176a04089f7016",
    "scheme bands not dividing": "9e081347efdf3b960569fe0aed8a9b92dc5a9d4cee77c2efbaa77440739df4ae",
    "scheme one band": "bdf71033a77739f844ea27655dc45899eaff26017f9742c2f2a33b45560b06d6",
    "scheme rows of one": "dc94cde29de32fb22815cef79cbaf13cf5d614ecf64e7247943bfd094bf37264",
    "scheme shingle longer than text": "7cfa14ceeb022875ebc559a78783b86abe38d16b12b19f2bbd14855d211d0007",
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
