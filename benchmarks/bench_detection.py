"""Precision and recall of the bundled rules (config/watcher.yaml) on a labelled set.

    python benchmarks/bench_detection.py [--corpus DIR] [--config FILE]

The set is benchmarks/data/detection_eval.yaml: every feed item and page of the shared corpus
(labelled there where some rule should match, negative otherwise) and sentences written for
it in English, Russian, Azerbaijani, Turkish and Armenian (three scripts), with inflected
forms, cross-script names, adjectives and decoys. Prints, per rule and per language, true and
false hits and misses with precision and recall, then every remaining miss and false hit with
the terms that fired; then how many real spellings of each name meet under plain folding and
under name folding (`Name+`). Without the corpus only the written sentences are scored.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watcher.config.load import load_config  # noqa: E402
from watcher.errors import ParseError  # noqa: E402
from watcher.ingest.extract import extract_article  # noqa: E402
from watcher.ingest.parse import parse_feed  # noqa: E402
from watcher.rules import Document, RuleSet  # noqa: E402
from watcher.rules.normalise import FOLD, NAME, normalise_text  # noqa: E402

EVAL = ROOT / "benchmarks" / "data" / "detection_eval.yaml"
CORPUS = ROOT.parent / "shared" / "corpus"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)

NAME_SPELLINGS: dict[str, list[str]] = {
    # Real spellings seen in agency copy, one name per line, every script.
    "Aliyev": ["Aliyev", "Aliev", "Əliyev", "Алиев", "Ալիև", "Ալիեւ", "Aliyev"],
    "Pashinyan": ["Pashinyan", "Paşinyan", "Пашинян", "Փաշինյան", "Pashinian"],
    "Ilham": ["Ilham", "İlham", "Ильхам", "Իլհամ"],
    "Yerevan": ["Yerevan", "Erevan", "Ереван", "Երևան", "Երեւան"],
    "Azerbaijan": ["Azerbaijan", "Азербайджан", "Azerbaydzhan"],
    "Armenia": ["Armenia", "Армения", "Armeniya"],
    "Baku": ["Baku", "Баку", "Բաքու"],
    "Khankendi": ["Khankendi", "Ханкенди", "Xankəndi", "Hankendi"],
    "Kocharyan": ["Kocharyan", "Кочарян", "Քոչարյան", "Koçaryan"],
    "Mirzoyan": ["Mirzoyan", "Мирзоян", "Միրզոյան"],
    "Bayramov": ["Bayramov", "Байрамов", "Bairamov"],
    "Jeyhun": ["Jeyhun", "Джейхун", "Dzheykhun"],
    "Hajiyev": ["Hajiyev", "Гаджиев", "Hacıyev", "Hadjiev"],
    "Hasanov": ["Hasanov", "Həsənov", "Гасанов", "Hasanov"],
    "Sargsyan": ["Sargsyan", "Саргсян", "Սարգսյան"],
    "Karabakh": ["Karabakh", "Карабах", "Karabağ", "Qarabağ", "Ղարաբաղ", "Karabah"],
    "Stepanakert": ["Stepanakert", "Степанакерт", "Ստեփանակերտ"],
    "Nakhchivan": ["Nakhchivan", "Naxçıvan", "Нахичевань", "Nahçıvan"],
}


@dataclass(frozen=True)
class Item:
    ident: str
    language: str
    kind: str
    doc: Document
    expected: frozenset[str]


def _manifest_languages(corpus: Path) -> dict[str, str]:
    languages = {}
    for line in (corpus / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) > 6:
            languages[cells[0]] = cells[6]
    return languages


def load_items(corpus: Path | None = CORPUS) -> list[Item]:
    spec = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    items = []
    for i, (language, rules, kind, text) in enumerate(spec["own"]):
        expected = frozenset(r for r in rules.split(",") if r)
        items.append(Item(f"own#{i}", language, kind, Document(title=text), expected))
    if corpus is None or not (corpus / "MANIFEST.tsv").exists():
        return items
    labels = {c["id"]: frozenset(c["rules"]) for c in spec["corpus"]}
    languages = _manifest_languages(corpus)
    for path in sorted((corpus / "feeds").glob("*")):
        try:
            feed = parse_feed(path.read_bytes(), "https://feeds.example.org/" + path.name, NOW)
        except ParseError:
            continue
        language = languages.get(f"feeds/{path.name}", "?")
        for n, e in enumerate(feed.entries):
            ident = f"feeds/{path.name}#{n}"
            doc = Document(title=e.title, summary=e.summary, body=e.content, language=language)
            items.append(Item(ident, language, "corpus", doc, labels.get(ident, frozenset())))
    for path in sorted((corpus / "pages").glob("*.html")):
        if path.name.endswith(".expected.html"):
            continue
        extracted = extract_article(path.read_bytes(), "https://example.org/" + path.stem)
        if extracted is None:
            continue
        ident = f"pages/{path.name}"
        language = languages.get(ident, "?")
        doc = Document(title=extracted.title, body=extracted.text, language=language)
        items.append(Item(ident, language, "corpus", doc, labels.get(ident, frozenset())))
    return items


@dataclass
class Outcome:
    counts: Counter[tuple[str, str, str]]  # (rule, language, tp|fp|fn) -> count
    errors: list[tuple[str, str, Item, tuple[str, ...]]]  # (rule, miss|false hit, item, terms)


def evaluate(items: list[Item], rules: RuleSet) -> Outcome:
    counts: Counter[tuple[str, str, str]] = Counter()
    errors = []
    for item in items:
        matches = {m.rule: m for m in rules.match(item.doc)}
        for rule in rules.rule_names:
            got, want = rule in matches, rule in item.expected
            if got and want:
                counts[(rule, item.language, "tp")] += 1
            elif got:
                counts[(rule, item.language, "fp")] += 1
                errors.append((rule, "false hit", item, matches[rule].terms))
            elif want:
                counts[(rule, item.language, "fn")] += 1
                errors.append((rule, "miss", item, ()))
    return Outcome(counts, errors)


def scores(outcome: Outcome, rule: str, language: str | None = None) -> tuple[int, int, int]:
    def total(kind: str) -> int:
        return sum(
            n
            for (r, lang, k), n in outcome.counts.items()
            if r == rule and k == kind and (language is None or lang == language)
        )

    return total("tp"), total("fp"), total("fn")


def ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def bundled_rules(config: Path) -> RuleSet:
    cfg = load_config(str(config), env={})
    return RuleSet.compile([r.spec for r in cfg.rules], cfg.term_lists)


def name_meetings() -> list[tuple[str, int, int, int]]:
    """(name, pairs, pairs meeting under plain folding, under name folding)."""
    rows = []
    for name, spellings in NAME_SPELLINGS.items():
        pairs = [(a, b) for i, a in enumerate(spellings) for b in spellings[i + 1 :]]
        fold = sum(normalise_text(a, FOLD) == normalise_text(b, FOLD) for a, b in pairs)
        named = sum(normalise_text(a, NAME) == normalise_text(b, NAME) for a, b in pairs)
        rows.append((name, len(pairs), fold, named))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "watcher.yaml")
    args = parser.parse_args()
    rules = bundled_rules(args.config)
    items = load_items(args.corpus)
    outcome = evaluate(items, rules)
    languages = sorted({i.language for i in items})
    positives = sum(bool(i.expected) for i in items)
    print(f"{len(items)} items ({positives} with an expected rule), {len(languages)} languages")
    print(f"{'rule':22} {'lang':5} {'tp':>5} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}")
    for rule in rules.rule_names:
        for language in [None, *languages]:
            tp, fp, fn = scores(outcome, rule, language)
            if language is not None and tp + fp + fn == 0:
                continue
            print(
                f"{rule:22} {language or 'all':5} {tp:5} {fp:4} {fn:4} "
                f"{ratio(tp, tp + fp):9.3f} {ratio(tp, tp + fn):7.3f}"
            )
    print("\nRemaining misses and false hits:")
    for rule, what, item, terms in outcome.errors:
        text = " ".join(item.doc.title.split())[:90]
        fired = f" (fired: {', '.join(terms)})" if terms else ""
        print(f"  {rule}: {what}: {item.ident} [{item.language}, {item.kind}] {text!r}{fired}")
    if not outcome.errors:
        print("  none")
    print("\nName spellings that meet (pairs of real spellings of one name):")
    rows = name_meetings()
    for name, pairs, fold, named in rows:
        print(f"  {name:12} {pairs:3} pairs: plain fold {fold:3}, name fold {named:3}")
    total = sum(r[1] for r in rows)
    print(
        f"  all: {total} pairs, plain fold {sum(r[2] for r in rows)}, "
        f"name fold {sum(r[3] for r in rows)}"
    )


if __name__ == "__main__":
    main()
