"""Language detection: cost per call and agreement with py3langid on 600 characters.

Three text sets, as `detect_language` sees them in the poll path:

- pages:     title + body of every ../shared/corpus/pages article, through extract_article;
- items:     title + summary of every ../shared/corpus/feeds item, through parse_feed (the
             short-text case: a story whose page could not be read is judged on this);
- titles:    the feed items' titles alone (the shortest case);
- headlines: hand-written wire headlines in the languages the design names, with their
             language, so there is a truth and not only agreement (the corpus has few
             az/hy/ka/uk/fa short texts).

Every candidate has the same gate (fewer than 20 letters in the 600-character sample: None),
counted the cheap way watcher now counts; the old function is timed verbatim, with its count of
every letter. Cost is CPU time (time.process_time) of a pass over the set's texts that pass the
gate, divided by their number, median of 5 passes after a warm-up pass. Agreement is against
the old answer, py3langid.classify on the first 600 characters; every disagreement, and every
sample on which watcher falls back to py3langid, is listed with a snippet so a human can judge.

    PYTHONPATH=. python benchmarks/bench_language.py
"""

from __future__ import annotations

import importlib
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import py3langid
import pycld2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from watcher.errors import ParseError
from watcher.ingest import extract
from watcher.ingest.extract import detect_language, extract_article
from watcher.ingest.parse import parse_feed

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
PASSES = 5
WIRE_LANGUAGES = ["en", "ru", "az", "hy", "ka", "tr", "uk", "fa", "ar", "de", "fr"]

HEADLINES: list[tuple[str, str]] = [
    ("en", "Armenia and Azerbaijan agree to convene border commission"),
    ("en", "Georgian parliament passes media law after weeks of protests"),
    ("en", "Aliyev receives EU envoy in Baku"),
    ("ru", "Пашинян и Алиев встретились в Вашингтоне"),
    ("ru", "В Тбилиси прошла акция протеста у здания парламента"),
    ("ru", "Пашинян прибыл в Москву"),
    ("az", "Prezident İlham Əliyev Bakıda nümayəndə heyətini qəbul edib"),
    ("az", "Azərbaycan və Ermənistan sərhəd komissiyalarının iclası keçirilib"),
    ("az", "Qarabağda sülh danışıqları davam edir"),
    ("hy", "Փաշինյանը հանդիպել է Ալիևի հետ Վաշինգտոնում"),
    ("hy", "Հայաստանի կառավարությունը հաստատել է նոր բյուջեն"),
    ("hy", "Ղարաբաղի հարցով բանակցությունները վերսկսվել են"),
    ("ka", "საქართველოს პარლამენტმა ახალი კანონი მიიღო"),
    ("ka", "თბილისში საპროტესტო აქცია გაიმართა"),
    ("tr", "Dışişleri Bakanı Bakü'de Azerbaycanlı mevkidaşıyla görüştü"),
    ("tr", "Türkiye ile Ermenistan arasında sınır kapısı açılıyor"),
    ("tr", "Karabağ'da barış müzakereleri yeniden başladı"),
    ("uk", "Україна та Азербайджан підписали угоду про співпрацю"),
    ("uk", "У Києві відбулася зустріч міністрів закордонних справ"),
    ("fa", "وزیر امور خارجه ایران با همتای آذربایجانی خود دیدار کرد"),
    ("fa", "نشست کمیسیون مرزی ارمنستان و آذربایجان برگزار شد"),
    ("ar", "وزير الخارجية التركي يزور باكو لإجراء محادثات"),
    ("ar", "أرمينيا وأذربيجان تتفقان على ترسيم الحدود"),
    ("de", "Armenien und Aserbaidschan einigen sich auf Grenzkommission"),
    ("de", "Georgisches Parlament verabschiedet umstrittenes Mediengesetz"),
    ("fr", "L'Arménie et l'Azerbaïdjan signent un accord de paix à Washington"),
    ("fr", "Le parlement géorgien adopte une nouvelle loi sur les médias"),
]


def old_detect(text: str) -> str | None:
    """watcher's detect_language before CLD2, verbatim: the reference answer."""
    sample = text[:600]
    if sum(ch.isalpha() for ch in sample) < 20:
        return None
    code, _score = py3langid.classify(sample)
    return str(code) if code else None


def gated(text: str, chars: int = extract.LANGUAGE_SAMPLE_CHARS) -> str | None:
    """The same gate, cheaper (stops at the 20th letter): the sample, or None."""
    sample = text[:chars]
    letters = len(list(islice(filter(str.isalpha, sample), extract.MIN_LETTERS)))
    return sample if letters >= extract.MIN_LETTERS else None


def langid_on(chars: int) -> Callable[[str], str | None]:
    def detect(text: str) -> str | None:
        sample = gated(text, chars)
        if sample is None:
            return None
        code, _score = py3langid.classify(sample)
        return str(code) if code else None

    return detect


def langid_restricted() -> Callable[[str], str | None]:
    """py3langid limited to the design's languages (its DFA walk, the main cost, is the same)."""
    ident = py3langid.langid.LanguageIdentifier.from_model_file(py3langid.langid.MODEL_FILE)
    ident.set_languages(WIRE_LANGUAGES)

    def detect(text: str) -> str | None:
        sample = gated(text)
        if sample is None:
            return None
        code, _score = ident.classify(sample)
        return str(code) if code else None

    return detect


def cld2_plain(text: str) -> str | None:
    """CLD2's answer when it calls it reliable, else None (no fallback)."""
    sample = gated(text)
    return None if sample is None else extract._cld2(sample)


def cld2_then_langid(chars: int) -> Callable[[str], str | None]:
    """CLD2 on the first `chars` characters; py3langid on 600 when CLD2 is not reliable."""

    def detect(text: str) -> str | None:
        sample = gated(text)
        if sample is None:
            return None
        code = extract._cld2(sample[:chars])
        if code is None:
            code, _score = py3langid.classify(sample)
        return str(code) if code else None

    return detect


def cld2_best_effort(text: str) -> str | None:
    """CLD2's best guess even when it does not call it reliable."""
    sample = gated(text)
    if sample is None:
        return None
    try:
        _reliable, _n, details = pycld2.detect(sample, isPlainText=True, bestEffort=True)
    except (pycld2.error, UnicodeEncodeError):
        return None
    return extract._iso639_1(details[0][1])


def cld3_candidate() -> Callable[[str], str | None] | None:
    """CLD3 (pip package cld3-py, module gcld3) when it is installed; it is no dependency."""
    try:
        gcld3 = importlib.import_module("gcld3")
    except ImportError:
        return None
    ident = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=4000)

    def detect(text: str) -> str | None:
        sample = gated(text)
        if sample is None:
            return None
        r = ident.FindLanguage(text=sample)
        return str(r.language).split("-")[0] if r.is_reliable else None

    return detect


def text_sets() -> dict[str, list[tuple[str | None, str]]]:
    pages: list[tuple[str | None, str]] = []
    for html in sorted((CORPUS / "pages").glob("*.html")):
        if html.name.endswith(".expected.html"):
            continue
        got = extract_article(html.read_bytes(), "https://example.org/article")
        if got:
            pages.append((None, f"{got.title}\n{got.text}"))
    items: list[tuple[str | None, str]] = []
    titles: list[tuple[str | None, str]] = []
    for path in sorted((CORPUS / "feeds").glob("*")):
        try:
            parsed = parse_feed(path.read_bytes(), "https://feeds.example.org/" + path.name, NOW)
        except ParseError:
            continue
        for e in parsed.entries:
            items.append((None, f"{e.title}\n{e.summary}"))
            titles.append((None, e.title))
    headlines: list[tuple[str | None, str]] = [(lang, t) for lang, t in HEADLINES]
    return {"pages": pages, "items": items, "titles": titles, "headlines": headlines}


def cpu_us_per_call(fn: Callable[[str], str | None], texts: list[str]) -> float:
    for t in texts:  # warm-up: py3langid loads its model on the first call
        fn(t)
    runs = []
    for _ in range(PASSES):
        t0 = time.process_time()
        for t in texts:
            fn(t)
        runs.append((time.process_time() - t0) / len(texts) * 1e6)
    return statistics.median(runs)


def snippet(text: str, width: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}")
    baseline = old_detect
    candidates: dict[str, Callable[[str], str | None]] = {
        "py3langid-600 (old)": baseline,
        "py3langid-200": langid_on(200),
        "py3langid-600, 11 langs": langid_restricted(),
        "cld2 reliable-only": cld2_plain,
        "cld2 bestEffort": cld2_best_effort,
        "cld2-300 + py3langid": cld2_then_langid(300),
    }
    cld3 = cld3_candidate()
    if cld3 is not None:
        candidates["cld3 reliable-only"] = cld3
    candidates["watcher detect_language"] = detect_language

    for name, rows in text_sets().items():
        live = [(truth, t) for truth, t in rows if gated(t) is not None]
        texts = [t for _, t in live]
        old = [baseline(t) for t in texts]
        print(f"\n== {name}: {len(rows)} texts, {len(live)} with 20+ letters in the sample")
        fallback = [
            f"old={o}" + (f" truth={tr}" if tr else "") + f"  {snippet(t)}"
            for o, (tr, t) in zip(old, live, strict=True)
            if cld2_plain(t) is None
        ]
        pct = 100 * len(fallback) / len(texts)
        print(f"   CLD2 not reliable, so watcher asks py3langid: {len(fallback)} ({pct:.1f}%)")
        for line in fallback:
            print(f"      {line}")
        head = f"   {'candidate':<26} {'µs/call':>8} {'agree old':>10}"
        if name == "headlines":
            head += f" {'correct':>8}"
        print(head)
        disagreements: dict[str, list[str]] = {}
        for cname, fn in candidates.items():
            got = [fn(t) for t in texts]
            agree = sum(g == o for g, o in zip(got, old, strict=True))
            line = f"   {cname:<26} {cpu_us_per_call(fn, texts):>8.1f} {agree:>6}/{len(texts):<3}"
            if name == "headlines":
                right = sum(g == truth for g, (truth, _) in zip(got, live, strict=True))
                line += f" {right:>4}/{len(texts):<3}"
            print(line)
            disagreements[cname] = [
                f"old={o} new={g}" + (f" truth={tr}" if tr else "") + f"  {snippet(t)}"
                for g, o, (tr, t) in zip(got, old, live, strict=True)
                if g != o
            ]
        for cname, lines in disagreements.items():
            if lines and cname != "py3langid-600 (old)":
                print(f"   -- {cname}: {len(lines)} disagreements with the old answer")
                for line in lines:
                    print(f"      {line}")


if __name__ == "__main__":
    main()
