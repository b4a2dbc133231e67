"""Benchmark: RuleSet matching against a naive one-regex-per-term loop, on real articles.

    PYTHONPATH=. python benchmarks/bench_rules.py [--corpus DIR] [--repeats 5] [--naive-cap 20]

(or without PYTHONPATH once the package is installed).

Articles are the text trafilatura extracts from every saved page in the corpus, once (pages
where it returns None are skipped); the first line, if short, is the title. Two tables, each
for 100, 1,000 and 10,000 terms spread over 100 rules:

- realistic (the figure the goal is about): what watch lists hold. Terms are distinctive
  names and rare words: synthetic names in Latin and Cyrillic, as agency and sanctions lists
  would hold them (almost all absent from any given story), names and rare words drawn from the
  corpus, "First Last" phrases and name* stems. Most sit in named @lists, used by rules shaped
  like the bundled config/watcher.yaml: watch lists alone or with NOT, @people AND @topics,
  NEAR, phrases, title: scopes, any/all/none, plus the config's own Karabakh rules. Most
  articles match no rule or one: the table prints the mean and the share matching none.
- adversarial: every term drawn from the corpus's own vocabulary, 10 to 100 per rule in one
  `any` list, so dozens of rules match every article and every match cuts several snippets.
  This measures the cost of hits and snippets, not of scanning.

Columns: compile time; articles per CPU-second (median of --repeats passes over all articles)
for RuleSet.match (hits and snippets for every matching rule), for the same with the
normalisation caches emptied before each pass (`cold`: every word folded afresh, an upper
bound on the cost of a stream of new words) and for RuleSet.matching (rule names only); rules
matched per article; and a loop of one precompiled `\\b<term>\\b` (re.I) regex per term, run
on at most --naive-cap articles at 10,000 terms because it is that slow.
Single process, single thread: one core; rates are per CPU-second of the process, so other
load on the machine does not count against the matcher.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import random
import re
import statistics
import string
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import trafilatura

from watcher.rules import Document, RuleSet, RuleSpec, normalise

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TERM_COUNTS = (100, 1_000, 10_000)
RULES = 100
KARABAKH_LISTS = {"karabakh": ["Karabakh", "Qarabağ", "Karabağ", "Artsakh", "Карабах*", "Ղարաբաղ*"]}
KARABAKH_RULES = [
    RuleSpec("karabakh-talks", query="@karabakh AND (peace OR talks OR negotiat*) NOT football"),
    RuleSpec("pashinyan", any=("Pashinyan", "Paşinyan", "Пашинян", "Փաշինյան")),
    RuleSpec("leaders-meet", query='"aliyev pashinyan"~10 OR (Aliyev NEAR/10 Pashinyan)'),
]
CONFIG_LISTS = {
    "karabakh": ["Karabakh", "Qarabağ*", "Karabağ*", "Artsakh", "Карабах*", "Арцах*", "Ղարաբաղ*"],
    "pashinyan": ["Pashinyan", "Paşinyan", "Пашинян*", "Փաշինյան*"],
    "aliyev": ["Aliyev", "Əliyev*", "Алиев*", "Ալիև*"],
    "talks": ["peace", "talks", "negotiat*", "treaty", "peace agreement", "sülh", "danışıq*"],
    "topics": [
        "election*",
        "protest*",
        "sanction*",
        "minister*",
        "president*",
        "court",
        "police",
        "military",
        "выбор*",
        "президент*",
        "министр*",
        "Präsident*",
        "gobierno",
        "ministre*",
    ],
}
CONFIG_RULES = [
    RuleSpec("karabakh-talks", query="@karabakh AND @talks NOT (football OR futbol OR футбол)"),
    RuleSpec("leaders-meet", query="@pashinyan AND @aliyev"),
    RuleSpec(
        "border-delimitation",
        any=("delimitation", "demarcation", "delimitasiya", "sərhəd komissiyası", "делимитаци*"),
    ),
]
LATIN_SYLLABLES = [
    "ka",
    "va",
    "ro",
    "mi",
    "sa",
    "ne",
    "to",
    "lu",
    "ga",
    "ve",
    "di",
    "ar",
    "ben",
    "dor",
    "hak",
    "gev",
    "tar",
    "zel",
    "mur",
    "vol",
    "kam",
    "ser",
    "pol",
    "ish",
    "nor",
    "bra",
    "vik",
    "ost",
    "lin",
    "fer",
    "gal",
    "dra",
    "mon",
    "tes",
    "kor",
    "zan",
    "bel",
    "rad",
]
LATIN_ENDINGS = [
    "yan",
    "ov",
    "ova",
    "enko",
    "li",
    "zade",
    "ski",
    "ska",
    "son",
    "escu",
    "idis",
    "ashvili",
    "oglu",
    "berg",
    "ez",
    "ini",
]
CYRILLIC_SYLLABLES = [
    "ка",
    "ва",
    "ро",
    "ми",
    "са",
    "не",
    "то",
    "лу",
    "га",
    "ве",
    "ди",
    "ар",
    "бен",
    "дор",
    "хак",
    "тар",
    "зел",
    "мур",
    "вол",
    "кам",
]
CYRILLIC_ENDINGS = ["ян", "ов", "ова", "енко", "ский", "ская", "швили", "оглы"]
FIRST_NAMES = [
    "Arman",
    "Leyla",
    "Sergei",
    "Anna",
    "Gevorg",
    "Farid",
    "Olena",
    "Tomas",
    "Mariam",
    "Rustam",
    "Irina",
    "Karim",
    "Elena",
    "Davit",
    "Nigar",
    "Pavel",
    "Sofia",
    "Aram",
    "Zaur",
    "Lusine",
]
ORG_WORDS = [
    "Holdings",
    "Group",
    "Trading",
    "Logistics",
    "Foundation",
    "Capital",
    "Shipping",
    "Partners",
]


def load_articles(corpus: Path) -> list[str]:
    texts = []
    for page in sorted((corpus / "pages").glob("*.html")):
        html = page.read_bytes().decode("utf-8", errors="replace")
        text = trafilatura.extract(html, include_comments=False)
        if text:
            texts.append(text)
    return texts


def as_document(text: str) -> Document:
    """The first line is the headline when it is short enough to be one."""
    first, _, rest = text.partition("\n")
    if rest and len(first) <= 200:
        return Document(title=first, body=rest)
    return Document(title="", body=text)


# --- realistic terms and rules -------------------------------------------------------------


def corpus_names(articles: Sequence[str]) -> tuple[list[str], list[str]]:
    """Distinctive words of the corpus: capitalised, 5+ letters, never seen in lower case and
    in at most two articles (names, places, rare nouns); and pairs of them as phrases."""
    document_frequency: Counter[str] = Counter()
    lower: set[str] = set()
    pairs: set[str] = set()
    for text in articles:
        words = re.findall(r"[^\W\d_]{5,}", text)
        document_frequency.update(set(words))
        lower.update(w for w in words if w[0].islower())
    names = sorted(
        w
        for w, n in document_frequency.items()
        if n <= 2 and w[0].isupper() and not w.isupper() and w.lower() not in lower
    )
    chosen = set(names)
    for text in articles:
        for a, b in itertools.pairwise(re.findall(r"[^\W\d_]+", text)):
            if a in chosen and b in chosen:
                pairs.add(f"{a} {b}")
    return names, sorted(pairs)


def synthetic_name(rng: random.Random) -> str:
    if rng.random() < 0.15:
        word = "".join(rng.choice(CYRILLIC_SYLLABLES) for _ in range(rng.randint(2, 3)))
        return (word + rng.choice(CYRILLIC_ENDINGS)).capitalize()
    word = "".join(rng.choice(LATIN_SYLLABLES) for _ in range(rng.randint(2, 3)))
    return (word + rng.choice(LATIN_ENDINGS)).capitalize()


def realistic_terms(
    count: int, names: Sequence[str], pairs: Sequence[str], rng: random.Random
) -> list[str]:
    """`count` distinct terms: 1% corpus names and pairs (so that some stories match), the
    rest synthetic: surnames, "First Last" and company phrases, and stems with `*`."""
    terms: set[str] = set()
    from_corpus = max(2, count // 100)
    while len(terms) < from_corpus:
        roll = rng.random()
        if roll < 0.7:
            terms.add(rng.choice(names))
        elif roll < 0.85:
            terms.add(f'"{rng.choice(pairs)}"')
        else:
            name = rng.choice(names)
            terms.add(name[: max(5, len(name) - 2)] + "*")
    while len(terms) < count:
        roll = rng.random()
        name = synthetic_name(rng)
        if roll < 0.6:
            terms.add(name)
        elif roll < 0.8:
            terms.add(f'"{rng.choice(FIRST_NAMES)} {name}"')
        elif roll < 0.9:
            terms.add(f'"{name} {rng.choice(ORG_WORDS)}"')
        else:
            terms.add(name[: max(6, len(name) - 2)] + "*")
    shuffled = sorted(terms)
    rng.shuffle(shuffled)
    return shuffled


def realistic_rules(
    terms: Sequence[str], rng: random.Random
) -> tuple[list[RuleSpec], dict[str, list[str]]]:
    """90% of the terms in 50 @lists, the rest inline in 50 rules; 100 rules in all, in
    the shapes of config/watcher.yaml, plus its three Karabakh rules."""
    in_lists = len(terms) * 9 // 10
    lists = {f"watch-{i:02d}": list(terms[i:in_lists:50]) for i in range(min(50, in_lists))}
    lists.update(CONFIG_LISTS)
    inline = list(terms[in_lists:])
    per_rule = max(1, len(inline) // 50)
    names = sorted(k for k in lists if k.startswith("watch-"))
    specs: list[RuleSpec] = []
    for i in range(RULES - len(CONFIG_RULES)):
        mine = inline[(i % 50) * per_rule : (i % 50 + 1) * per_rule] or [inline[i % len(inline)]]
        a, b = names[i % len(names)], names[(i * 7 + 3) % len(names)]
        q = " OR ".join(mine)
        shapes = [
            f"@{a}",
            f"@{a} NOT (football OR sport*)",
            f"@{a} AND @topics",
            f"(@{a} OR {q}) AND (@topics OR @talks)",
            f"@{a} NEAR/15 @{b}",
            f"title:(@{a}) OR {q}",
            f"{q}",
        ]
        shape = i % (len(shapes) + 1)
        if shape < len(shapes):
            specs.append(RuleSpec(f"rule-{i:03d}", query=shapes[shape]))
        else:  # the structured form
            specs.append(
                RuleSpec(f"rule-{i:03d}", any=(f"@{a}", *mine), none=("football", "sport*"))
            )
    return [*specs, *CONFIG_RULES], lists


# --- adversarial terms and rules -----------------------------------------------------------


def adversarial_terms(count: int, articles: Sequence[str], rng: random.Random) -> list[str]:
    """60% corpus words, 10% corpus bigrams as phrases, 10% prefixes, 20% synthetic words that
    never occur. Corpus words are drawn uniformly from the vocabulary, leaving out only words
    found in more than a tenth of the articles ("that", "with", "said")."""
    document_frequency: Counter[str] = Counter()
    bigrams: list[str] = []
    for text in articles:
        tokens = re.findall(r"[^\W\d_]{4,}", text)
        document_frequency.update({t.lower() for t in tokens})
        bigrams.extend(f"{a} {b}" for a, b in itertools.pairwise(tokens))
    common = {w for w, n in document_frequency.items() if n > len(articles) / 10}
    vocabulary = sorted(w for w in document_frequency if w not in common)
    bigrams = [b for b in bigrams if not set(b.lower().split()) & common]
    terms: set[str] = set()
    while len(terms) < count:
        roll = rng.random()
        if roll < 0.6:
            terms.add(rng.choice(vocabulary))
        elif roll < 0.7:
            terms.add(f'"{rng.choice(bigrams)}"')
        elif roll < 0.8:
            word = rng.choice(vocabulary)
            terms.add(word[: max(4, len(word) - 3)] + "*")
        else:
            terms.add(
                "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(6, 11)))
            )
    return sorted(terms)


def adversarial_rules(terms: Sequence[str]) -> tuple[list[RuleSpec], dict[str, list[str]]]:
    per_rule = max(1, len(terms) // RULES)
    specs = [
        RuleSpec(f"rule-{i:03d}", any=tuple(terms[i * per_rule : (i + 1) * per_rule]))
        for i in range(min(RULES, len(terms)))
    ]
    return [*specs, *KARABAKH_RULES], dict(KARABAKH_LISTS)


# --- measuring ----------------------------------------------------------------------------


def naive_regexes(terms: Sequence[str]) -> list[re.Pattern[str]]:
    patterns = []
    for term in terms:
        if term.endswith("*"):
            patterns.append(re.compile(r"\b" + re.escape(term[:-1]), re.I))
        else:
            patterns.append(re.compile(r"\b" + re.escape(term.strip('"')) + r"\b", re.I))
    return patterns


def rate(run: Callable[[], int], repeats: int, before: Callable[[], object] = int) -> float:
    """Median articles per CPU-second of this process over `repeats` passes (CPU time, not
    wall time, so other load on the machine does not count against the matcher)."""
    rates = []
    for _ in range(repeats):
        before()
        start = time.process_time()
        done = run()
        rates.append(done / (time.process_time() - start))
    return statistics.median(rates)


def table(
    title: str,
    build: Callable[[int], tuple[list[str], list[RuleSpec], dict[str, list[str]]]],
    docs: Sequence[Document],
    args: argparse.Namespace,
) -> None:
    print(title)
    header = (
        f"{'terms':>7} {'rules':>5} {'patterns':>8} {'compile s':>9} {'match art/s':>11} "
        f"{'cold art/s':>10} {'matching art/s':>14} {'rules hit/art':>13} {'no hit':>6} "
        f"{'naive art/s':>11} {'naive on':>8} {'speedup':>7}"
    )
    print(header)
    print("-" * len(header))
    for count in TERM_COUNTS:
        terms, specs, lists = build(count)
        compile_times = []
        for _ in range(3):
            t0 = time.perf_counter()
            rules = RuleSet.compile(specs, lists)
            compile_times.append(time.perf_counter() - t0)
        per_doc = [len(rules.match(d)) for d in docs]

        def run_match(rules: RuleSet = rules) -> int:
            for doc in docs:
                rules.match(doc)
            return len(docs)

        def run_matching(rules: RuleSet = rules) -> int:
            for doc in docs:
                rules.matching(doc)
            return len(docs)

        match_rate = rate(run_match, args.repeats)
        cold_rate = rate(run_match, args.repeats, normalise.clear_caches)
        verdict_rate = rate(run_matching, args.repeats)
        regexes = naive_regexes(terms)
        texts = [f"{d.title}\n{d.body}" for d in docs]
        naive_texts = texts if count < 10_000 else texts[: args.naive_cap]

        def run_naive(
            regexes: list[re.Pattern[str]] = regexes, texts: list[str] = naive_texts
        ) -> int:
            for text in texts:
                for pattern in regexes:
                    pattern.search(text)
            return len(texts)

        naive_rate = rate(run_naive, 3)
        print(
            f"{count:>7,} {len(specs):>5} {rules.pattern_count:>8,} "
            f"{statistics.median(compile_times):>9.3f} {match_rate:>11,.0f} {cold_rate:>10,.0f} "
            f"{verdict_rate:>14,.0f} {statistics.mean(per_doc):>13.2f} "
            f"{per_doc.count(0) / len(per_doc):>6.0%} {naive_rate:>11,.1f} "
            f"{len(naive_texts):>8} {match_rate / naive_rate:>6.0f}x"
        )
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-cap", type=int, default=20)
    parser.add_argument("--only", choices=("realistic", "adversarial"))
    args = parser.parse_args(argv)
    if not (args.corpus / "pages").is_dir():
        print(f"no corpus pages under {args.corpus}", file=sys.stderr)
        return 2

    start = time.perf_counter()
    articles = load_articles(args.corpus)
    chars = sum(len(a) for a in articles)
    print(f"python {platform.python_version()} on {platform.machine()}, one process, one thread")
    print(
        f"{len(articles)} articles extracted in {time.perf_counter() - start:.1f} s; "
        f"mean {chars / len(articles):,.0f} chars, total {chars:,}"
    )
    print()
    docs = [as_document(a) for a in articles]
    names, pairs = corpus_names(articles)

    def realistic(count: int) -> tuple[list[str], list[RuleSpec], dict[str, list[str]]]:
        rng = random.Random(20240501 + count)
        terms = realistic_terms(count, names, pairs, rng)
        specs, lists = realistic_rules(terms, rng)
        return terms, specs, lists

    def adversarial(count: int) -> tuple[list[str], list[RuleSpec], dict[str, list[str]]]:
        terms = adversarial_terms(count, articles, random.Random(20240501 + count))
        specs, lists = adversarial_rules(terms)
        return terms, specs, lists

    if args.only != "adversarial":
        table("REALISTIC: distinctive names in @lists, config-shaped rules", realistic, docs, args)
    if args.only != "realistic":
        table(
            "ADVERSARIAL: corpus vocabulary, dozens of rules match every article",
            adversarial,
            docs,
            args,
        )
    print(
        f"match: RuleSet.match (hits and snippets for every matching rule); cold: the same, "
        f"normalisation caches emptied before each pass; matching: RuleSet.matching (rule "
        f"names only); medians of {args.repeats} passes over all articles. no hit: articles "
        f"matching no rule. compile: median of 3. naive: median of 3 passes, at 10,000 terms "
        f"over the first {args.naive_cap} articles only; speedup = match / naive."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
