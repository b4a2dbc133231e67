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
"""The one word the benchmark's alerting rule looks for: in a marked story's summary, or only in
its article page for a body-only story; unmarked stories (most of them, as on real feeds, where
a desk's alerting rules hit a small share of stories) have it nowhere."""

SUMMARY, PAGE, NOWHERE = "summary", "page", "nowhere"
"""Where a story carries the marker."""

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


def _halves(a: str, b: str, middle: str = "") -> str:
    """The first half of one sentence and the second half of another: the words and the rhythm
    of news, in a sentence no other story has (a whole shared sentence, and the lead weighs
    more, is enough for near-duplicate clustering to join two stories)."""
    x, y = a.rstrip(".!?").split(), b.split()
    return " ".join([*x[: max(3, len(x) // 2)], *middle.split(), *y[len(y) // 2 :]])


def distinct(sid: int, marker: str) -> StoryText:
    """A story of its own: a headline of two sentence fragments and a wire slug (unique per sid,
    so no two stories share a normalised headline), and a summary of two sentences each made of
    two halves of corpus sentences; the marker (`marker` says where: SUMMARY, PAGE or NOWHERE)
    sits inside the first sentence of the summary, or at the end of the page's text."""
    pool = sentences()
    rng = random.Random(sid)
    a, b, c, d, e, f, g = (pool[rng.randrange(len(pool))] for _ in range(7))
    head = " ".join(a.rstrip(".!?").split()[:7] + b.rstrip(".!?").split()[-5:])
    title = f"{head} ({_code(sid)})"
    summary = f"{_halves(c, d, MARKER if marker == SUMMARY else '')} {_halves(e, f)}"
    page = f"{summary} {g}"
    if marker == PAGE:
        page = f"{page} The {MARKER} desk reports."
    return StoryText(title, summary, page)


def paragraphs(sid: int, own: str, count: int, at: int) -> list[str]:
    """`count` paragraphs for a story's page: its own text at `at`, the others sentences of
    halves drawn for this story alone."""
    pool = sentences()
    rng = random.Random(-1 - sid)
    out = []
    for _ in range(count):
        pick = [pool[rng.randrange(len(pool))] for _ in range(4)]
        out.append(f"{_halves(pick[0], pick[1])} {_halves(pick[2], pick[3])}")
    out[at] = own
    return out


def templated(sid: int, marker: str) -> StoryText:
    """The same words but a number, as a daily rate table or a score line is; the marker as in
    `distinct`."""
    rate = 1.5 + (sid % 9973) / 10000
    title = f"Official exchange rate of the manat for item {sid}: 1 US dollar = {rate:.4f} AZN"
    summary = (
        f"The Central Bank set the official rate at {rate:.4f} manat per US dollar "
        f"(bulletin {sid}); the euro and the rouble rates follow in the table."
    )
    if marker == SUMMARY:
        summary += f" Published by the {MARKER} desk."
    page = f"{summary} Published by the {MARKER} desk." if marker == PAGE else summary
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
