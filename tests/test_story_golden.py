"""What the feed-to-story stage stores and matches, pinned over the corpus feeds: every entry of
every corpus feed, parsed, keyed, prepared and matched against the bundled rules
(config/watcher.yaml), gives the identity keys, links, title, language, search text and rule
matches that the code gave when tests/story_golden.json was generated (before the per-story
speed work of issue 18). A faster path that stored or matched anything differently fails here.

The near-duplicate signature is left out: its values are pinned per signature version by
tests/test_neardup_golden.py, and only its title key is compared here.

Regenerate (only after deciding an output change is wanted): python tests/test_story_golden.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import CORPUS, ROOT
from watcher.config import load_config
from watcher.errors import ParseError
from watcher.ingest.dedup import Identity, canonical_url, content_hash, identity_key, strip_tracking
from watcher.ingest.parse import Entry, parse_feed
from watcher.ingest.prepare import FeedRef, Prepared, prepare_stories
from watcher.rules import RuleMatch, RuleSet, RuleSpec

GOLDEN = Path(__file__).with_name("story_golden.json")
FEEDS = sorted((CORPUS / "feeds").glob("*")) if (CORPUS / "feeds").is_dir() else []
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
SOURCE = FeedRef("corpus", ("news",))


# The bundled rules fire on few corpus items, so rules on common news words (with a language
# filter and a phrase among them) make the matcher's output part of the comparison too.
EXTRA = (
    RuleSpec("common-en", query='government OR police OR "prime minister" OR market*'),
    RuleSpec("common-any", any=("world", "Berlin", "Россия", "news", "apple"), min_score=0.0),
    RuleSpec("tech-not-sport", all=("new",), none=("football",), languages=("en",)),
    RuleSpec("german", any=("und", "die"), languages=("de",), priority="high"),
)


def _rules() -> RuleSet:
    config = load_config(str(ROOT / "config" / "watcher.yaml"), env={})
    return RuleSet.compile([r.spec for r in config.rules] + list(EXTRA), config.term_lists)


def _digest(text: str | None) -> str | None:
    if text is None:
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _match(m: RuleMatch) -> dict[str, Any]:
    return {
        "rule": m.rule,
        "terms": list(m.terms),
        "score": round(m.score, 9),
        "priority": m.priority,
        "hits": len(m.hits),
        "hits_digest": _digest(
            repr([(h.term, h.field, h.text, h.snippet, h.mark_start, h.mark_end) for h in m.hits])
        ),
    }


def _careful(entry: Entry) -> dict[str, Any]:
    """The identity as the dedup functions compute it, each on its own."""
    return {
        "key": identity_key(entry),
        "url": strip_tracking(entry.link) if entry.link else None,
        "canonical_url": canonical_url(entry.link) if entry.link else None,
        "content_hash": content_hash(entry.title, entry.summary or entry.content),
    }


def _prepared(p: Prepared) -> dict[str, Any]:
    s = p.story
    return {
        "key": _digest(s.key),
        "guid": _digest(s.guid),
        "url": _digest(s.url),
        "canonical_url": s.canonical_url,
        "content_hash": _digest(s.content_hash),
        "title": s.title,
        "summary": _digest(s.summary),
        "body": _digest(s.body),
        "body_source": s.body_source,
        "language": s.language,
        "search_text": _digest(s.search_text),
        "published_at": s.published_at.isoformat() if s.published_at else None,
        "title_key": _digest(s.title_key),
        "has_bands": bool(p.fingerprint.bands),
        "matches": [_match(m) for m in p.matches],
    }


def story_outputs(feed: Path, rules: RuleSet) -> dict[str, Any]:
    """Per entry of one corpus feed, the prepared story; its identity must also be what the
    dedup functions give one by one (the event loop's "seen before?" asks use those)."""
    try:
        parsed = parse_feed(feed.read_bytes(), f"https://feeds.example.org/{feed.name}", NOW)
    except ParseError as exc:
        return {"error": str(exc)}
    items = [(e, e.content or e.summary, "feed") for e in parsed.entries]
    out = []
    for entry, prepared in zip(
        parsed.entries, prepare_stories(rules, SOURCE, items, NOW), strict=True
    ):
        assert isinstance(prepared, Prepared), prepared
        assert entry.identity == Identity(**_careful(entry))  # what the event loop asks with
        story = _prepared(prepared)
        careful = {k: _digest(v) if k != "canonical_url" else v for k, v in _careful(entry).items()}
        assert careful == {k: story[k] for k in careful}
        out.append(story)
    return {"entries": out}


def generate() -> dict[str, Any]:
    rules = _rules()
    return {feed.name: story_outputs(feed, rules) for feed in FEEDS}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return _rules()


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


@pytest.mark.skipif(not FEEDS, reason="corpus feeds not present")
def test_the_golden_file_covers_every_corpus_feed(golden: dict[str, Any]) -> None:
    assert sorted(golden) == [f.name for f in FEEDS]
    stories = sum(len(v.get("entries", ())) for v in golden.values())
    matched = sum(1 for v in golden.values() for e in v.get("entries", ()) if e["matches"])
    assert stories > 500 and matched > 20  # the comparison below is over real, matching stories


@pytest.mark.skipif(not FEEDS, reason="corpus feeds not present")
@pytest.mark.parametrize("feed", FEEDS, ids=[f.name for f in FEEDS])
def test_stories_store_and_match_as_golden(
    feed: Path, rules: RuleSet, golden: dict[str, Any]
) -> None:
    assert story_outputs(feed, rules) == golden[feed.name]


if __name__ == "__main__":
    lines = [
        f"{json.dumps(name)}: " + json.dumps(out, ensure_ascii=False, sort_keys=True)
        for name, out in generate().items()
    ]
    GOLDEN.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
