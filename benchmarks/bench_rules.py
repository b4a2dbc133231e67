"""Benchmark: RuleSet matching against a naive one-regex-per-term loop, on real articles.

    PYTHONPATH=. python benchmarks/bench_rules.py [--corpus DIR] [--repeats 5] [--naive-cap 20]

(or without PYTHONPATH once the package is installed).

Articles are the text trafilatura extracts from every saved page in the corpus (pages where it
returns None are skipped). For 100, 1,000 and 10,000 terms (corpus words, corpus bigrams as
phrases, prefixes and synthetic words that never occur, spread over 100 rules, plus the
Karabakh rules from the design notes) it prints compile time and the median articles/second
of several passes for RuleSet.match (with hits and snippets), for RuleSet.matching (rule
names only) and for a loop of one precompiled `\\b<term>\\b` (re.I) regex per term. The
naive loop is run on at most --naive-cap articles at 10,000 terms, because it is that slow;
the figure is still articles/second.
Single process, single thread: one core; rates are per CPU-second of the process.
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

from watcher.rules import Document, RuleSet, RuleSpec

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TERM_COUNTS = (100, 1_000, 10_000)
RULES = 100
KARABAKH_LISTS = {"karabakh": ["Karabakh", "Qarabağ", "Karabağ", "Artsakh", "Карабах*", "Ղարաբաղ*"]}
KARABAKH_RULES = [
    RuleSpec("karabakh-talks", query="@karabakh AND (peace OR talks OR negotiat*) NOT football"),
    RuleSpec("pashinyan", any=("Pashinyan", "Paşinyan", "Пашинян", "Փաշինյան")),
    RuleSpec("leaders-meet", query='"aliyev pashinyan"~10 OR (Aliyev NEAR/10 Pashinyan)'),
]


def load_articles(corpus: Path) -> list[str]:
    texts = []
    for page in sorted((corpus / "pages").glob("*.html")):
        html = page.read_bytes().decode("utf-8", errors="replace")
        text = trafilatura.extract(html, include_comments=False)
        if text:
            texts.append(text)
    return texts


def make_terms(count: int, articles: Sequence[str], rng: random.Random) -> list[str]:
    """Realistic term mix: 60% corpus words, 10% corpus bigrams as phrases, 10% prefixes,
    20% synthetic words that never occur (most watch-list terms are absent most of the time).

    Corpus words are drawn uniformly from the vocabulary, leaving out words found in more
    than a tenth of the articles ("that", "with", "said"): nobody watches for those, and
    they would make every rule match every article.
    """
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


def make_rules(terms: Sequence[str]) -> list[RuleSpec]:
    per_rule = max(1, len(terms) // RULES)
    specs = [
        RuleSpec(f"rule-{i:03d}", any=tuple(terms[i * per_rule : (i + 1) * per_rule]))
        for i in range(min(RULES, len(terms)))
    ]
    return [*specs, *KARABAKH_RULES]


def naive_regexes(terms: Sequence[str]) -> list[re.Pattern[str]]:
    patterns = []
    for term in terms:
        if term.endswith("*"):
            patterns.append(re.compile(r"\b" + re.escape(term[:-1]), re.I))
        else:
            patterns.append(re.compile(r"\b" + re.escape(term.strip('"')) + r"\b", re.I))
    return patterns


def rate(run: Callable[[], int], repeats: int) -> float:
    """Median articles per CPU-second of this process over `repeats` passes (CPU time, not
    wall time, so other load on the machine does not count against the matcher)."""
    rates = []
    for _ in range(repeats):
        start = time.process_time()
        done = run()
        rates.append(done / (time.process_time() - start))
    return statistics.median(rates)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-cap", type=int, default=20)
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
    docs = [Document(title="", body=a) for a in articles]
    rng = random.Random(20240501)
    print()
    header = (
        f"{'terms':>7} {'rules':>5} {'patterns':>8} {'compile s':>9} {'match art/s':>11} "
        f"{'matching art/s':>14} {'rules hit/art':>13} {'naive art/s':>11} {'naive on':>8} "
        f"{'speedup':>7}"
    )
    print(header)
    print("-" * len(header))
    for count in TERM_COUNTS:
        terms = make_terms(count, articles, rng)
        specs = make_rules(terms)
        compile_times = []
        for _ in range(3):
            t0 = time.perf_counter()
            rules = RuleSet.compile(specs, KARABAKH_LISTS)
            compile_times.append(time.perf_counter() - t0)
        matches = sum(len(rules.match(d)) for d in docs)

        def run_match(rules: RuleSet = rules) -> int:
            for doc in docs:
                rules.match(doc)
            return len(docs)

        def run_matching(rules: RuleSet = rules) -> int:
            for doc in docs:
                rules.matching(doc)
            return len(docs)

        ruleset_rate = rate(run_match, args.repeats)
        verdict_rate = rate(run_matching, args.repeats)
        regexes = naive_regexes(terms)
        naive_docs = articles if count < 10_000 else articles[: args.naive_cap]

        def run_naive(
            regexes: list[re.Pattern[str]] = regexes, texts: list[str] = naive_docs
        ) -> int:
            for text in texts:
                for pattern in regexes:
                    pattern.search(text)
            return len(texts)

        naive_rate = rate(run_naive, 3)
        print(
            f"{count:>7,} {len(specs):>5} {rules.pattern_count:>8,} "
            f"{statistics.median(compile_times):>9.3f} {ruleset_rate:>11,.0f} "
            f"{verdict_rate:>14,.0f} {matches / len(docs):>13.2f} {naive_rate:>11,.1f} "
            f"{len(naive_docs):>8} {ruleset_rate / naive_rate:>6.0f}x"
        )
    print()
    print(
        f"match: RuleSet.match (hits and snippets for every matching rule); matching: "
        f"RuleSet.matching (rule names only). Medians of {args.repeats} passes over all "
        f"articles; compile: median of 3; naive: median of 3 passes, at 10,000 terms over the "
        f"first {args.naive_cap} articles only; speedup = match / naive."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
