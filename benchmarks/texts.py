"""Story texts for the farm, drawn from the shared corpus so that stories read like news and
differ as agencies' stories do; and the templated kind (rate tables, weather, scores) whose
items are the same words but a number, which near-duplicate clustering finds hardest."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
PAGES = CORPUS / "pages"
MARKER = "benchwire"
"""The one word the benchmark's alerting rule looks for: in a story's summary, or only in its
article page for a body-only story."""

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZА-ЯЁ\"“])")
_NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class StoryText:
    title: str
    summary: str
    page_text: str  # the paragraph put into the article page


@cache
def sentences() -> tuple[str, ...]:
    """Sentences of 6 to 40 words from the corpus: article truth texts and feed items."""
    from watcher.errors import ParseError
    from watcher.ingest.parse import parse_feed

    texts: list[str] = []
    for path in sorted(PAGES.glob("scrapinghub__*.json")):
        texts.append(json.loads(path.read_text(encoding="utf-8")).get("articleBody") or "")
    texts += [p.read_text(encoding="utf-8") for p in sorted(PAGES.glob("newspaper4k__*.txt"))]
    for path in sorted((CORPUS / "feeds").glob("*")):
        try:
            parsed = parse_feed(path.read_bytes(), "https://feeds.example.org/" + path.name, _NOW)
        except ParseError:
            continue
        texts += [f"{e.title}. {e.summary}" for e in parsed.entries]
    out: list[str] = []
    seen: set[str] = set()
    for text in texts:
        for s in _SENTENCE.split(" ".join(text.split())):
            if 6 <= len(s.split()) <= 40 and s not in seen and MARKER not in s.lower():
                seen.add(s)
                out.append(s)
    if len(out) < 200:
        raise SystemExit(f"too few corpus sentences ({len(out)}); is {CORPUS} there?")
    return tuple(out)


@cache
def vocabulary() -> tuple[str, ...]:
    """Words of 5+ letters from the corpus, most frequent first: realistic rule terms, some of
    which every story contains and most of which it does not."""
    counts = Counter(
        w.lower() for s in sentences() for w in re.findall(r"[^\W\d_]{5,}", s) if w.isascii()
    )
    return tuple(w for w, _ in counts.most_common() if w != MARKER)


@cache
def _short() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Sentences of at most 20 words (an even number of them), in a fixed shuffled order: a
    summary sharing a long sentence with another story's would rightly be clustered with it."""
    short = tuple(s for s in sentences() if len(s.split()) <= 20)
    short = short[: len(short) // 2 * 2]
    order = list(range(len(short)))
    random.Random(0).shuffle(order)
    return short, tuple(order)


def distinct(sid: int, marker_in_summary: bool) -> StoryText:
    """A story of its own: a headline made of two sentence fragments and a wire slug (unique per
    sid, so no two stories share a normalised headline) and a summary of two sentences. The
    first `len(short) // 2` stories share no summary sentence; past that, each pass over the
    sentences pairs an even-placed one with another odd-placed one, so no two stories share
    both."""
    pool = sentences()
    short, order = _short()
    rng = random.Random(sid)
    a, b = (pool[rng.randrange(len(pool))] for _ in range(2))
    head = " ".join(a.rstrip(".!?").split()[:7] + b.rstrip(".!?").split()[-5:])
    title = f"{head} ({_code(sid)})"
    n = len(short)
    k = 2 * sid // n  # the pass
    c, d = short[order[2 * sid % n]], short[order[(2 * sid + 1 + 2 * k) % n]]
    summary = f"{c} The {MARKER} desk reports. {d}" if marker_in_summary else f"{c} {d}"
    page = f"{summary} {pool[rng.randrange(len(pool))]}"
    if not marker_in_summary:
        page = f"{page} The {MARKER} desk reports."
    return StoryText(title, summary, page)


def templated(sid: int, marker_in_summary: bool) -> StoryText:
    """The same words but a number, as a daily rate table or a score line is."""
    rate = 1.5 + (sid % 9973) / 10000
    title = f"Official exchange rate of the manat for item {sid}: 1 US dollar = {rate:.4f} AZN"
    summary = (
        f"The Central Bank set the official rate at {rate:.4f} manat per US dollar "
        f"(bulletin {sid}); the euro and the rouble rates follow in the table."
    )
    if marker_in_summary:
        summary += f" Published by the {MARKER} desk."
    page = summary if marker_in_summary else f"{summary} Published by the {MARKER} desk."
    return StoryText(title, summary, page)


def _code(sid: int) -> str:
    """A wire slug such as agencies put in headlines; letters, so the headline's words differ."""
    letters = "bcdfghjklmnpqrstvwxz"
    out = ""
    n = sid + 1
    while n:
        n, r = divmod(n, len(letters))
        out += letters[r]
    return out.upper()
