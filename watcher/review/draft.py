""" "Test this query on the last N days": a draft rule over stored stories, hits and near misses.

A near miss is a story where some of the draft's terms fired but the whole query did not hold
(the matcher's `explain` says why), which is what a person tuning a query needs to see next to
the hits. Nothing is written and nothing is sent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from watcher.config import Config
from watcher.rules import Document, RuleSet, RuleSpec
from watcher.store import Store, iter_stories

DRAFT = "draft"
MAX_SHOWN = 50
MAX_STORIES = 50_000  # a draft over a huge archive answers about its oldest part only


@dataclass(frozen=True)
class DraftStory:
    id: int
    feed: str
    title: str
    url: str | None
    terms: tuple[str, ...]
    snippets: tuple[dict[str, Any], ...]
    reason: str


@dataclass
class DraftResult:
    query: str
    stories: int = 0
    hits: int = 0
    near_misses: int = 0
    truncated: bool = False
    hit_samples: list[DraftStory] = field(default_factory=list)
    near_samples: list[DraftStory] = field(default_factory=list)


def compile_draft(query: str, config: Config) -> RuleSet:
    """Raises RuleError (with the position) when the draft does not compile."""
    return RuleSet.compile([RuleSpec(name=DRAFT, query=query)], config.term_lists)


def try_draft(config: Config, store: Store, query: str, since: datetime) -> DraftResult:
    rules = compile_draft(query, config)
    tags = {f.name: f.tags for f in config.feeds}
    out = DraftResult(query=query)
    hits: deque[DraftStory] = deque(maxlen=MAX_SHOWN)
    near: deque[DraftStory] = deque(maxlen=MAX_SHOWN)
    for batch in iter_stories(store, since):
        for st in batch:
            out.stories += 1
            doc = Document(
                title=st.title,
                summary=st.summary,
                body=st.body,
                feed=st.feed,
                tags=tags.get(st.feed, ()),
                language=st.language,
            )
            verdict = rules.explain(doc)[0]
            if not verdict.matched and not verdict.hits:
                continue
            shown = DraftStory(
                id=st.id,
                feed=st.feed,
                title=st.title,
                url=st.url,
                terms=tuple(dict.fromkeys(h.term for h in verdict.hits)),
                snippets=tuple(h.as_dict() for h in verdict.hits[:3]),
                reason=verdict.reason,
            )
            if verdict.matched:
                out.hits += 1
                hits.append(shown)
            else:
                out.near_misses += 1
                near.append(shown)
        if out.stories >= MAX_STORIES:
            out.truncated = True
            break
    out.hit_samples = list(reversed(hits))  # newest first
    out.near_samples = list(reversed(near))
    return out
