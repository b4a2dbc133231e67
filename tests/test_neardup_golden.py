"""Fingerprints are a stored format: these literals were computed by the code that wrote the
first stored signatures, so any rewrite of watcher.neardup (for speed, say) must reproduce them
bit for bit. Cases sit on the edges where a faster path is most likely to differ: empty and
too-short text, the MIN_SHINGLES and MIN_BODY_SHINGLES thresholds, duplicate shingles, fewer
words than a shingle, non-Latin scripts, placeholder words, bodies crossing the numpy block
size, and non-default schemes (including bands that do not divide the permutations).

If a literal fails, the stored format changed: that needs a VERSION bump, not new literals.
The literals are version 3's: version 2 weighted the lead (issue #15) by hashing 12 marked
copies of each lead shingle; version 3 (issue 18) draws the copies' minimum once, which
changes every value drawn from a lead, and the VERSION byte and band salt of every case
(the empty ones included). Older literals were replaced with each bump, as band keys salted
with the version keep old stories from ever being compared."""

from __future__ import annotations

import hashlib
import random
import struct

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
    "empty": "5eb63dac3eeb2f351a2e4e2ee024e072604b5f61a7c602c640ac48a78f7db173",
    "whitespace": "5eb63dac3eeb2f351a2e4e2ee024e072604b5f61a7c602c640ac48a78f7db173",
    "headline only, generic": "5eb63dac3eeb2f351a2e4e2ee024e072604b5f61a7c602c640ac48a78f7db173",
    "one word": "5eb63dac3eeb2f351a2e4e2ee024e072604b5f61a7c602c640ac48a78f7db173",
    "under MIN_SHINGLES": "5eb63dac3eeb2f351a2e4e2ee024e072604b5f61a7c602c640ac48a78f7db173",
    "at MIN_SHINGLES": "e92b9dbe8a9a1f3f10acf5ae74a9d6e850aeac7b202c07ed9b5698042160bb3d",
    "title at MIN_TITLE_WORDS": "a4df175f6b82455083ac862b8cf97909b6d81f3bccface27f5c9c31ec19ce58f",
    "title below MIN_TITLE_WORDS": "5eb63dac3eeb2f351a2e4e2ee024e072604b5f61a7c602c640ac48a78f7db173",
    "headline only": "9de168b73c6bde95bdb87c9f2a93d7775da612c951672e3ec4ece0564986b9d9",
    "body below MIN_BODY_SHINGLES": "3bdf1ce909f8c0b8ee65cc65e464c52e4678041b6c00fef5a8925fe1ca128a9f",
    "body at MIN_BODY_SHINGLES": "2c268e2938f25419f6517739adc9c0ff5381d5dc216eb25004d2429edf3427fb",
    "repeated line": "08cc8b4b289a96644182e6bf57edabf673f898268d977f430cff19106d0f6635",
    "short feed item": "90e91073d2c85efa3aebee4ad1349ce3691968a000a08477e98f04cc4e9ee963",
    "short feed item 2": "2d94ad7644b2e75ac5547bafdf5ed7ea6c3b08444752b592a60f6f81dd7c6358",
    "long article": "72b1f40fbdd39de16eba887838109e8c189a79e1d12a228cc1338c6194bd52e0",
    "2000 words": "989ffe7578687aa7a7e4adbb2df89f6e1426903e9fb5d268dba0254fa66eddc4",
    "20000 words, many numpy blocks": "765ac254f4a00943ead4a6437d5cb1aebd1ef2f47a473f67408535488f73886f",
    "512 shingles": "017852bb52663cf97382299134d30694f953b902b3be6da8694c34f6d7eec308",
    "513 shingles": "017852bb52663cf97382299134d30694f953b902b3be6da8694c34f6d7eec308",
    "2048 shingles": "d7dc1c7d5243ec6cd9d17012c8435a9db5ad08a9f242242a473fde9d58c42ff7",
    "2049 shingles": "d7dc1c7d5243ec6cd9d17012c8435a9db5ad08a9f242242a473fde9d58c42ff7",
    "cyrillic": "c6f6752a39760ae681eda2ca12f3e89a93b07527df6c124f7b364a61329bd427",
    "cyrillic short with title": "476a46a8ceea0981d19f592d70a63ed7ad9e97bd5b7adc14e3e15b409acf2f33",
    "armenian": "34322ebe19b5f49b3eb2a039e695a22844281e84cea2f84b288e2485e145c53c",
    "mixed scripts": "cf9f18c425e74590da6ea1d511e35468e034f24c0d66c66f067180c3821219b6",
    "placeholders and CJK": "e67d4a3f105a35b721229889a2f3b5b56c7bc53a0b9889164c512147d803c61e",
    "digits and possessives": "d8acbe3fccd9543070daed846bb8e9e99b6fca0f32d04f98ffa4fd43f574b1ef",
    "scheme 1-word shingles": "e0f7165f0963f6a22df44f05d75e30ce7e68f65a0b445c72fc7dcbf72ecb5b72",
    "scheme 2 words, 64 permutations": "5f2f7c5dbc2251bfae88a746522bbfaa638374443886bf041beeffe9e4820d10",
    "scheme bands not dividing": "c6234cc4b353e1045acb632f646af37c094e18e6bfb7930018a66a452b36cc7f",
    "scheme one band": "c3fcddbcd50cbeacfc8a9cdb7f7eb950f5da7eb49936dea83d319c874f9b1d43",
    "scheme rows of one": "757fd5c517497667d10e62d012b4c63c97fe11f29be9c9bc90d6c19f297468c4",
    "scheme shingle longer than text": "5eb63dac3eeb2f351a2e4e2ee024e072604b5f61a7c602c640ac48a78f7db173",
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
    band, the shift applied to every value; with version 3's lead group in integer arithmetic
    (no numpy, no floating point)."""

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
    lead: set[bytes] = set()
    if len(found) < cluster.MIN_BODY_SHINGLES:
        found = shingles(title_words + words(body), scheme.shingle_words)
    else:  # version 2: the lead weighs LEAD_COPIES more (version 3: as one group, see below)
        lead_words: list[str] = []
        for line in body.splitlines():
            lead_words += words(line)
            if len(lead_words) >= cluster.LEAD_MIN_WORDS:
                break
        lead = shingles(lead_words[: cluster.LEAD_WORDS], scheme.shingle_words)
    if len(found) < cluster.MIN_SHINGLES:
        return (cluster.EMPTY,) * n, (), title_key

    def lowest(label: bytes, texts: set[bytes]) -> list[int]:
        """Per permutation, min over texts of (a * blake2b(text) + b) mod 2^64, in Python ints."""
        constants = [hashlib.blake2b(label % i, digest_size=16).digest() for i in range(n)]
        ab = [
            (int.from_bytes(c[:8], "little") | 1, int.from_bytes(c[8:], "little"))
            for c in constants
        ]
        xs = [int.from_bytes(hashlib.blake2b(t, digest_size=8).digest(), "little") for t in texts]
        return [min((a * x + b) % 2**64 for x in xs) for a, b in ab]

    signature = tuple(v >> 32 for v in lowest(b"watcher-cluster-perm-%d", found))
    if lead:
        # version 3: the LEAD_COPIES copies of the lead as one group, whose value is the
        # minimum of LEAD_COPIES uniforms: m = floor(2^32 (1 - (1 - x/2^64)^(1/c))), the
        # largest m with (2^32 - m)^c >= (2^64 - x) 2^(32c - 64), by an integer c-th root
        c = cluster.LEAD_COPIES
        group = []
        for x in lowest(b"watcher-cluster-lead-perm-%d", lead):
            bound = (2**64 - x) << (32 * c - 64)
            root = round(float(bound) ** (1 / c))
            while root**c < bound:
                root += 1
            while root > 0 and (root - 1) ** c >= bound:
                root -= 1
            group.append(2**32 - root)
        signature = tuple(map(min, signature, group))
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
