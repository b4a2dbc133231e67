"""A new entry made ready to store: its identity, folded text, language, near-duplicate
fingerprint and rule matches. Pure, so that it can run in a worker process (watcher.ingest.workers):
on a first poll of many feeds this is most of the CPU after parsing. The daemon imports this
module for FeedRef alone, so language detection (numpy, py3langid, pycld2) is imported where it
runs, in the workers, and not here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.ingest.dedup import identify
from watcher.ingest.parse import Entry
from watcher.model import NewStory
from watcher.neardup import Fingerprint, fingerprint
from watcher.rules import Document, RuleMatch, RuleSet
from watcher.rules.normalise import fold_text


@dataclass(frozen=True)
class Prepared:
    story: NewStory
    matches: tuple[RuleMatch, ...]
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Completed:
    """A stored story's text once its article page was read: what the store rewrites and the
    rules matched on the full text (watcher.pipeline.pages)."""

    body: str
    body_source: str
    language: str | None
    search_text: str
    matches: tuple[RuleMatch, ...]
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Skipped:
    """An item that could not be prepared, and why."""

    link: str | None
    reason: str


@dataclass(frozen=True)
class FeedRef:
    """The feed an entry came from, as much of it as preparing needs (picklable, small)."""

    name: str
    tags: tuple[str, ...] = ()


def prepare_stories(
    rules: RuleSet,
    source: FeedRef,
    items: Sequence[tuple[Entry, str, str]],
    now: datetime,
) -> list[Prepared | Skipped]:
    """Each (entry, body text, "page" or "feed") of one poll; one call per poll, so a worker
    process is asked once per feed and not once per story. An item that fails comes back as
    Skipped, in its place, and its siblings are prepared."""
    out: list[Prepared | Skipped] = []
    for entry, body, origin in items:
        try:
            out.append(prepare_story(rules, source, entry, body, origin, now))
        except Exception as exc:  # hostile content met a bug: that item only
            out.append(Skipped(entry.link, f"{type(exc).__name__}: {exc}"))
    return out


def prepare_story(
    rules: RuleSet, source: FeedRef, entry: Entry, body: str, origin: str, now: datetime
) -> Prepared:
    from watcher.ingest.extract import detect_language  # numpy, langid: workers only

    fp = fingerprint(entry.title, body)
    identity = entry.identity or identify(
        entry.guid, entry.link, entry.title, entry.summary or entry.content
    )
    story = NewStory(
        feed=source.name,
        key=identity.key,
        guid=entry.guid,
        url=identity.url,
        canonical_url=identity.canonical_url,
        title=entry.title,
        summary=entry.summary,
        body=body,
        body_source=origin,
        language=detect_language(f"{entry.title}\n{body}"),
        search_text=fold_text(f"{entry.title}\n{entry.summary}\n{body}"),
        content_hash=identity.content_hash,
        published_at=entry.published_at,
        first_seen_at=now,
        title_key=fp.title_key,
    )
    doc = Document(
        title=entry.title,
        summary=entry.summary,
        body=body,
        feed=source.name,
        tags=source.tags,
        language=story.language,
    )
    return Prepared(story=story, matches=tuple(m.ready() for m in rules.match(doc)), fingerprint=fp)


def complete_story(
    rules: RuleSet,
    source: FeedRef,
    title: str,
    summary: str,
    body: str,
    origin: str,
) -> Completed:
    """A story stored with the feed's text, prepared again with its article's text: the same
    language, fingerprint, folded text and matches `prepare_story` gives a story whose page
    was read before it was stored."""
    from watcher.ingest.extract import detect_language  # numpy, langid: workers only

    fp = fingerprint(title, body)
    language = detect_language(f"{title}\n{body}")
    doc = Document(
        title=title,
        summary=summary,
        body=body,
        feed=source.name,
        tags=source.tags,
        language=language,
    )
    return Completed(
        body=body,
        body_source=origin,
        language=language,
        search_text=fold_text(f"{title}\n{summary}\n{body}"),
        matches=tuple(m.ready() for m in rules.match(doc)),
        fingerprint=fp,
    )
