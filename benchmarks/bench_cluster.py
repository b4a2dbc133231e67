"""Near-duplicate clustering (watcher.neardup) on ../shared/corpus/pages: false merges, recall on
lightly edited copies, different stories on the same topic (corpus feed items), LSH candidate
recall, and cost, over a few candidate settings.

Every page is extracted once with watcher.ingest.extract.extract_article. The readability
`*.expected.html` files are that corpus's truth copies of other pages (the same article), so
they are left out of the false-merge pairs and reported as real reprints instead.

Edits imitate what agencies do to wire copy, with a fixed seed per page (reproducible):
  headline   words replaced and a prefix/suffix added to the title
  paragraph  one paragraph dropped (not the lead, at most a third of the words; else a
             sentence; else the last fifth)
  dateline   an agency dateline before the lead and a boilerplate line at the end
  words      a few words substituted (1 in 50, at least 3)
  combined   all four at once
A pair can only be confirmed if it shares a band key first, so recall is reported both as
"confirmed" (what the store will see) and "candidate" (the LSH lookup alone).

    python benchmarks/bench_cluster.py
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from watcher import neardup as cluster
from watcher.ingest.extract import extract_article
from watcher.neardup import Fingerprint, Scheme
from watcher.rules.normalise import word_spans

PAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "pages"
VARIANTS = 3  # edited copies per page and edit kind
PREFIXES = ("UPDATE 1-", "BREAKING: ", "Armenpress: ", "")
SUFFIXES = (" - report", " | AzerNews", " (VIDEO)", ": officials")
DATELINES = ("YEREVAN, November 28. /ARMENPRESS/. ", "BAKU, Nov 28 (APA) - ", "MOSCOW (TASS) - ")
# A stock background paragraph, as agencies append to every story on a running subject.
BACKGROUND = (
    "Azerbaijan regained full control of Karabakh in a one-day offensive in September 2023, "
    "after which more than 100,000 ethnic Armenians left the region for Armenia. The two "
    "countries have since been negotiating a peace treaty and the delimitation of their border."
)
BOILERPLATE = (
    "Follow AzerNews on Telegram and X for the latest news from the region.",
    "(Reporting by Staff; Editing by Desk) © Copyright 2026, all rights reserved.",
)

Doc = tuple[str, str, str]  # stem, title, text
Edit = Callable[[str, str, random.Random], tuple[str, str]]


def load() -> tuple[list[Doc], list[tuple[Doc, Doc]]]:
    docs: dict[str, Doc] = {}
    truth: dict[str, Doc] = {}
    for path in sorted(PAGES.glob("*.html")):
        got = extract_article(path.read_bytes(), "https://example.org/" + path.stem)
        if got is None:
            continue
        stem = path.name.removesuffix(".html")
        (truth if stem.endswith(".expected") else docs)[stem] = (stem, got.title, got.text)
    reprints = [(docs[s.removesuffix(".expected")], d) for s, d in truth.items()]
    return list(docs.values()), reprints


def _swap_words(text: str, count: int, rng: random.Random) -> str:
    spans = word_spans(text)
    if not spans:
        return text
    vocab = [text[a:b] for a, b in spans]
    chosen = sorted(rng.sample(spans, min(count, len(spans))), reverse=True)
    for a, b in chosen:
        text = text[:a] + rng.choice(vocab) + text[b:]
    return text


def headline(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    edited = _swap_words(title, 2, rng)
    return rng.choice(PREFIXES) + edited + rng.choice(SUFFIXES), text


def _drop_one(parts: list[str], total: int, rng: random.Random) -> list[str] | None:
    """Without a random part after the lead that holds at most a third of the words."""
    light = [i for i in range(1, len(parts)) if 0 < len(word_spans(parts[i])) * 3 <= total]
    if not light:
        return None
    drop = rng.choice(light)
    return parts[:drop] + parts[drop + 1 :]


def paragraph(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    total = len(word_spans(text))
    kept = _drop_one(text.split("\n"), total, rng)
    if kept is not None:
        return title, "\n".join(kept)
    kept = _drop_one(re.split(r"(?<=[.!?。])\s+", text), total, rng)
    if kept is not None:
        return title, " ".join(kept)
    spans = word_spans(text)  # one long paragraph and sentence: cut its last fifth
    return title, text[: spans[total - total // 5 - 1][1]] if spans else text


def dateline(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    return title, rng.choice(DATELINES) + text + "\n" + rng.choice(BOILERPLATE)


def words(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    return title, _swap_words(text, max(3, len(word_spans(text)) // 50), rng)


def combined(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    for edit in (headline, paragraph, dateline, words):
        title, text = edit(title, text, rng)
    return title, text


EDITS: dict[str, Edit] = {
    "headline": headline,
    "paragraph": paragraph,
    "dateline": dateline,
    "words": words,
    "combined": combined,
}


def rate_table(n: int) -> tuple[str, str]:
    """A daily exchange-rate item: every agency publishes one, the same words each day. Such
    items are distinct stories, and their texts are close (Jaccard about 0.39): the near-miss
    that tells whether an estimator's spread or bias would merge them."""
    rng = random.Random(n)
    table = ", ".join(
        f"{c} {rng.uniform(0.5, 500):.4f}" for c in ("USD", "EUR", "RUB", "GBP", "CNY", "JPY")
    )
    return (
        f"Exchange rates for day {n}",
        f"The Central Bank set the following exchange rates for day {n}: {table}. The rates "
        "apply to transactions from 09:00 local time and are published every business day by "
        "the bank's press service.",
    )


def edited_copies(docs: list[Doc]) -> dict[str, list[tuple[int, str, str]]]:
    copies: dict[str, list[tuple[int, str, str]]] = {kind: [] for kind in EDITS}
    for i, (stem, title, text) in enumerate(docs):
        for kind, edit in EDITS.items():
            rng = random.Random(zlib.crc32(f"{stem}/{kind}".encode()))
            for _ in range(VARIANTS):
                copies[kind].append((i, *edit(title, text, rng)))
    return copies


def shares_band(a: Fingerprint, b: Fingerprint) -> bool:
    return not set(a.bands).isdisjoint(b.bands)


def evaluate(
    docs: list[Doc], copies: dict[str, list[tuple[int, str, str]]], scheme: Scheme
) -> dict[str, object]:
    fps = [cluster.fingerprint(t, x, scheme) for _, t, x in docs]
    distinct = [cluster.similarity(a, b) for a, b in itertools.combinations(fps, 2)]
    bg = [cluster.fingerprint(t, x + "\n" + BACKGROUND, scheme) for _, t, x in docs]
    background = [cluster.similarity(a, b) for a, b in itertools.combinations(bg, 2)]
    cands = sum(shares_band(a, b) for a, b in itertools.combinations(fps, 2))
    per_kind: dict[str, list[tuple[float, bool]]] = {}
    for kind, items in copies.items():
        per_kind[kind] = [
            (cluster.similarity(fps[i], e), shares_band(fps[i], e))
            for i, t, x in items
            for e in [cluster.fingerprint(t, x, scheme)]
        ]
    return {
        "distinct": distinct,
        "background": background,
        "candidates": cands,
        "pairs": len(distinct),
        "kinds": per_kind,
    }


def recall(results: dict[str, object], threshold: float) -> tuple[float, float, float]:
    """(confirmed overall, confirmed worst kind, candidate overall)."""
    kinds = results["kinds"]
    assert isinstance(kinds, dict)
    rates, cand, total = [], 0, 0
    all_ok = 0
    for pairs in kinds.values():
        ok = sum(1 for s, c in pairs if c and s >= threshold)
        rates.append(ok / len(pairs))
        all_ok += ok
        cand += sum(1 for _, c in pairs if c)
        total += len(pairs)
    return all_ok / total, min(rates), cand / total


def table(docs: list[Doc], copies: dict[str, list[tuple[int, str, str]]]) -> None:
    print(
        "\nCandidate settings (recall: similarity >= thresh AND a shared band key; the short-text"
    )
    print("bar SHORT_THRESHOLD is left out here; false_bg: pairs merged once every page carries")
    print("one stock background paragraph; cand_dist: distinct pairs sharing a band key):")
    print(
        f"{'shingle':>7} {'perms':>5} {'bands':>8} {'thresh':>6} {'false':>5} {'false_bg':>8}"
        f" {'recall':>7} {'worst':>6} {'cand_rec':>8} {'cand_dist':>9}"
    )
    for k, perms, bands in [
        (2, 128, 32),
        (3, 64, 16),
        (3, 128, 16),
        (3, 128, 32),
        (3, 128, 42),
        (3, 128, 64),
        (4, 128, 32),
        (5, 128, 32),
        (3, 256, 64),
    ]:
        scheme = Scheme(k, perms, bands)
        res = evaluate(docs, copies, scheme)
        distinct, background = res["distinct"], res["background"]
        assert isinstance(distinct, list) and isinstance(background, list)
        for threshold in (0.3, 0.4, 0.5, 0.6):
            false = sum(1 for s in distinct if s >= threshold)
            false_bg = sum(1 for s in background if s >= threshold)
            rec, worst, cand = recall(res, threshold)
            print(
                f"{k:>7} {perms:>5} {f'{bands}x{perms // bands}':>8} {threshold:>6.2f}"
                f" {false:>5} {false_bg:>8} {rec:>7.1%} {worst:>6.1%} {cand:>8.1%}"
                f" {int(str(res['candidates'])) / int(str(res['pairs'])):>9.2%}"
            )


def chosen(docs: list[Doc], copies: dict[str, list[tuple[int, str, str]]]) -> None:
    scheme, threshold = cluster.DEFAULT, cluster.THRESHOLD
    print(
        f"\nChosen: {scheme.shingle_words}-word shingles, {scheme.permutations} permutations,"
        f" {scheme.bands} bands x {scheme.permutations // scheme.bands} rows,"
        f" THRESHOLD {threshold}"
    )
    fps = [cluster.fingerprint(t, x) for _, t, x in docs]
    pairs = list(itertools.combinations(range(len(fps)), 2))
    merged = [(docs[i][0], docs[j][0]) for i, j in pairs if cluster.same_story(fps[i], fps[j])]
    top = max(pairs, key=lambda p: cluster.similarity(fps[p[0]], fps[p[1]]))
    print(f"(1) false merges: {len(merged)} of {len(pairs)} pairs ({len(merged) / len(pairs):.2%})")
    for a, b in merged:
        print(f"      merged: {a} + {b}")
    print(
        f"    most similar distinct pair: {cluster.similarity(fps[top[0]], fps[top[1]]):.3f}"
        f" ({docs[top[0]][0]} + {docs[top[1]][0]})"
    )
    bg = [cluster.fingerprint(t, x + "\n" + BACKGROUND) for _, t, x in docs]
    bg_merged = [(i, j) for i, j in pairs if cluster.same_story(bg[i], bg[j])]
    print(f"    all pages given one stock background paragraph: {len(bg_merged)} false merges")
    for i, j in bg_merged:
        print(
            f"      merged: {docs[i][0]} ({len(word_spans(docs[i][2]))} words of its own) +"
            f" {docs[j][0]} ({len(word_spans(docs[j][2]))}):"
            f" {cluster.similarity(bg[i], bg[j]):.3f}"
        )
    for label, cut in (("headline only", 0), ("title + first 30 words", 30)):
        short = [cluster.fingerprint(t, " ".join(x.split()[:cut])) for _, t, x in docs]
        usable = sum(1 for f in short if f.bands)
        n = sum(1 for a, b in itertools.combinations(short, 2) if cluster.same_story(a, b))
        print(f"    {label}: {n} false merges; {usable}/{len(short)} texts long enough to compare")

    rates = [cluster.fingerprint(*rate_table(n)) for n in range(200)]
    sims = [cluster.similarity(a, b) for a, b in itertools.combinations(rates, 2)]
    n = sum(1 for a, b in itertools.combinations(rates, 2) if cluster.same_story(a, b))
    print(
        f"    daily rate tables (same words, other numbers), 200: {n} of {len(sims)} pairs merged;"
        f" similarity median {statistics.median(sims):.3f}, max {max(sims):.3f}"
    )

    print(f"(2) recall on edited copies ({VARIANTS} per page and kind, {len(docs)} pages):")
    ok_all = cand_all = total = 0
    for kind, items in copies.items():
        got = [(fps[i], cluster.fingerprint(t, x)) for i, t, x in items]
        ok = sum(1 for a, b in got if cluster.same_story(a, b) and shares_band(a, b))
        cand = sum(1 for a, b in got if shares_band(a, b))
        sims = sorted(cluster.similarity(a, b) for a, b in got)
        ok_all, cand_all, total = ok_all + ok, cand_all + cand, total + len(got)
        print(
            f"    {kind:<10} {ok:>4}/{len(got)} = {ok / len(got):6.1%}"
            f"   candidate {cand / len(got):6.1%}"
            f"   similarity min {sims[0]:.2f} p10 {sims[len(sims) // 10]:.2f}"
            f" median {statistics.median(sims):.2f}"
        )
    print(
        f"    {'overall':<10} {ok_all:>4}/{total} = {ok_all / total:6.1%}"
        f"   candidate {cand_all / total:6.1%}"
    )
    title_items = [(t, rng) for _, t, _ in docs for rng in [random.Random(zlib.crc32(t.encode()))]]
    hl = [
        (cluster.fingerprint(t, ""), cluster.fingerprint(rng.choice(PREFIXES[:3]) + t, ""))
        for t, rng in title_items
    ]
    hl_ok = sum(1 for a, b in hl if cluster.same_story(a, b))
    print(f"    headline-only item with a prefix added: {hl_ok}/{len(hl)} = {hl_ok / len(hl):.1%}")
    titles = [a for a, _ in hl]
    title_pairs = [cluster.similarity(a, b) for a, b in itertools.combinations(titles, 2)]
    print("    headline-only, by SHORT_THRESHOLD: (prefix recall, false merges among titles)")
    print(
        "     ",
        "  ".join(
            f"{st}: ({sum(1 for a, b in hl if cluster.similarity(a, b) >= st) / len(hl):.0%},"
            f" {sum(1 for x in title_pairs if x >= st)})"
            for st in (0.5, 0.6, 0.7, 0.75, 0.8)
        ),
    )


TOPICS = ("greenland", "tariff", "gaza", "ukraine", "iran", "venezuela", "israel", "china")
FEEDS = PAGES.parent / "feeds"


def same_topic_pairs() -> list[tuple[Doc, Doc]]:
    """Different stories on one running topic: feed items of the corpus (full content only)
    whose titles share a topic word, with different links and titles; among them TIME's two
    Greenland tariff stories 19 hours apart that version 1 merged."""
    from datetime import UTC, datetime

    from watcher.errors import ParseError
    from watcher.ingest.parse import parse_feed

    items: list[tuple[str, Doc]] = []
    for path in sorted(FEEDS.glob("*")):
        try:
            feed = parse_feed(
                path.read_bytes(), "https://f.example.org/", datetime(2026, 1, 1, tzinfo=UTC)
            )
        except ParseError:
            continue
        for e in feed.entries:
            if len(e.content.split()) >= 150 and e.link:
                items.append((e.link, (f"{path.stem}: {e.title[:50]}", e.title, e.content)))
    pairs = []
    for (la, a), (lb, b) in itertools.combinations(items, 2):
        ta, tb = set(a[1].lower().split()), set(b[1].lower().split())
        if la != lb and a[1] != b[1] and any(any(t in w for w in ta & tb) for t in TOPICS):
            pairs.append((a, b))
    return pairs


def same_topic(pairs: list[tuple[Doc, Doc]]) -> None:
    fps = {d[0]: cluster.fingerprint(d[1], d[2]) for p in pairs for d in p}
    swallowed = [(a, b) for a, b in pairs if cluster.same_story(fps[a[0]], fps[b[0]])]
    sims = sorted(cluster.similarity(fps[a[0]], fps[b[0]]) for a, b in pairs)
    print(
        f"(4) same-topic different stories ({len(pairs)} pairs of corpus feed items):"
        f" {len(swallowed)} swallowed; similarity max {sims[-1]:.3f},"
        f" 99th percentile {sims[len(sims) * 99 // 100]:.3f}"
    )
    for a, b in swallowed:
        print(f"      merged: {a[0]} + {b[0]}")


def reprints(pairs: list[tuple[Doc, Doc]]) -> None:
    print("Real reprints (readability page vs its *.expected.html):")
    for (stem, t1, x1), (_, t2, x2) in pairs:
        a, b = cluster.fingerprint(t1, x1), cluster.fingerprint(t2, x2)
        print(f"    {stem}: similarity {cluster.similarity(a, b):.3f}, same_story", end=" ")
        print(cluster.same_story(a, b))


def costs(docs: list[Doc]) -> None:
    def median_us(fn: Callable[[], object], repeat: int) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e6

    per_fp = [median_us(partial(cluster.fingerprint, t, x), 5) for _, t, x in docs]
    fps = [cluster.fingerprint(t, x) for _, t, x in docs]
    a, b = fps[0], fps[1]
    sig = a.signature
    words = sorted(len(x.split()) for _, _, x in docs)
    print(f"(3) cost (median; page median {statistics.median(words):.0f} words):")
    print(f"    fingerprint      {statistics.median(per_fp):8.1f} µs  (max {max(per_fp):.0f} µs)")
    # what the poll path mostly sees: a feed item, its title and a summary of about 40 words
    short = [(t, " ".join(x.split()[:40])) for _, t, x in docs]
    per_short = [median_us(partial(cluster.fingerprint, t, x), 21) for t, x in short]
    print(f"    ... title + 40 words {statistics.median(per_short):4.1f} µs")
    print(f"    same_story       {median_us(partial(cluster.same_story, a, b), 2000):8.1f} µs")
    packed = cluster.pack(sig)
    print(
        f"    pack+unpack      {median_us(partial(cluster.pack, sig), 2000):8.1f} µs"
        f" + {median_us(partial(cluster.unpack, packed), 2000):.1f} µs"
        f"   ({len(packed)} bytes per signature)"
    )
    print(f"    from_signature   {median_us(partial(cluster.from_signature, sig), 2000):8.1f} µs")
    for module in ("watcher.neardup", "datasketch"):
        cmd = [sys.executable, "-c", f"import {module}"]
        run = partial(subprocess.run, cmd, check=False, capture_output=True)
        print(f"    fresh interpreter importing {module}: {median_us(run, 3) / 1000:.0f} ms")
    try:
        from datasketch import MinHash  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return
    shingles = [cluster._shingles(cluster._words(x), cluster.SHINGLE_WORDS) for _, _, x in docs]

    def ds(s: set[bytes]) -> None:
        m = MinHash(num_perm=cluster.PERMUTATIONS, seed=1, scheme="affine32")
        m.update_batch(list(s))

    own = [median_us(partial(cluster._minhash, s, cluster.PERMUTATIONS), 5) for s in shingles]
    lib = [median_us(partial(ds, s), 5) for s in shingles]
    print(
        f"    minhash step only: watcher.neardup {statistics.median(own):.1f} µs,"
        f" datasketch 2.x affine32 {statistics.median(lib):.1f} µs"
    )


def main() -> None:
    if not PAGES.is_dir():
        sys.exit(f"corpus not found at {PAGES}")
    t0 = time.perf_counter()
    docs, truth = load()
    print(f"{len(docs)} pages with text ({time.perf_counter() - t0:.1f} s to extract)")
    reprints(truth)
    copies = edited_copies(docs)
    chosen(docs, copies)
    same_topic(same_topic_pairs())
    costs(docs)
    table(docs, copies)


if __name__ == "__main__":
    main()
