"""The values that cross the boundary of the matcher: what comes in (specs, documents) and
what goes out (matches, verdicts). Everything is frozen so a compiled RuleSet can be shared
between threads and a result can be stored or queued without defensive copies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

FIELDS: tuple[str, ...] = ("title", "summary", "body")
"""Searchable document fields, in the order hits are reported."""

PRIORITIES: tuple[str, ...] = ("low", "normal", "high")


@dataclass(frozen=True)
class RuleSpec:
    """One rule as the config loader built it: a query string, or any/all/none term lists."""

    name: str
    query: str | None = None
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    case_sensitive: bool = False
    fields: tuple[str, ...] = FIELDS
    feeds: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    min_score: float = 0.0
    priority: str = "normal"


@dataclass(frozen=True)
class Document:
    """One story as the matcher sees it; `language` None means unknown (passes every filter)."""

    title: str
    summary: str = ""
    body: str = ""
    feed: str = ""
    tags: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class Hit:
    """Where one term fired, with the original text so an alert can explain itself.

    `mark_start`/`mark_end` index into `snippet` (not into the document) so each output format
    can escape the snippet and then mark the hit its own way.
    """

    term: str
    field: str
    text: str
    snippet: str
    mark_start: int
    mark_end: int

    def marked(self, left: str = "«", right: str = "»") -> str:
        s, a, b = self.snippet, self.mark_start, self.mark_end
        return f"{s[:a]}{left}{s[a:b]}{right}{s[b:]}"

    def as_dict(self) -> dict[str, object]:
        """The JSON form stored with matches and alerts and printed by `--json` commands."""
        return {
            "term": self.term,
            "field": self.field,
            "text": self.text,
            "snippet": self.snippet,
            "mark": [self.mark_start, self.mark_end],
        }


@dataclass(frozen=True)
class RuleMatch:
    """A rule that matched a document."""

    rule: str
    terms: tuple[str, ...]
    hits: tuple[Hit, ...]
    score: float
    priority: str
    # the stored form, once made (`ready`): not part of what the match is
    stored: tuple[str, str, str] | None = field(default=None, compare=False, repr=False)

    def marked_snippet(self, left: str = "«", right: str = "»") -> str:
        """The first hit's snippet with the hit wrapped in `left`/`right`; "" if no hit."""
        return self.hits[0].marked(left, right) if self.hits else ""

    def stored_form(self) -> tuple[str, str, str]:
        """(terms as JSON, hits as JSON, marked snippet): how a match is stored."""
        if self.stored is not None:
            return self.stored
        hits = [h.as_dict() for h in self.hits]
        return (
            json.dumps(list(self.terms), ensure_ascii=False),
            json.dumps(hits, ensure_ascii=False),
            self.marked_snippet(),
        )

    def ready(self) -> RuleMatch:
        """This match with its stored form made: a worker process makes it, so that the
        daemon's one busy process (which writes every story) need not (with a thousand rule
        terms a story matches several rules, and serialising them cost more than inserting)."""
        return replace(self, stored=self.stored_form())


@dataclass(frozen=True)
class Verdict:
    """One rule's outcome for `watcher explain`; `reason` says what failed (or why it matched)."""

    rule: str
    matched: bool
    hits: tuple[Hit, ...]
    reason: str
    score: float = 0.0
