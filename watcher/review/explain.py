"""`watcher explain`: one article through extract and every rule, with each verdict's reasons.

This is how a user debugs a rule: which terms were found where, and which part of the query
failed. It reads a local file or fetches one URL with the daemon's own limits and guard.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from watcher.config import Config, FeedConfig
from watcher.errors import WatcherError
from watcher.ingest.extract import detect_language, extract_article, page_text
from watcher.ingest.fetch import Fetcher
from watcher.pipeline import PAGE_ACCEPT, fetch_limits
from watcher.rules import Document, RuleSet, Verdict


@dataclass(frozen=True)
class Article:
    source: str
    title: str
    body: str
    language: str | None
    extracted: bool  # False: the file had no article markup and was read as plain text


async def load_article(target: str, config: Config) -> Article:
    """Read a file, or fetch an http(s) URL, and extract its article text."""
    path = Path(target)
    if path.is_file():
        try:
            data = path.read_bytes()[: config.polling.max_bytes]
        except OSError as exc:
            raise WatcherError(f"{target}: cannot read: {exc.strerror}") from exc
        url = path.resolve().as_uri()
    elif target.startswith(("http://", "https://")):
        async with Fetcher(fetch_limits(config)) as fetcher:
            resp = await fetcher.get(target, accept=PAGE_ACCEPT)
        if resp.status >= 400:
            raise WatcherError(f"{target}: HTTP status {resp.status}")
        data, url = resp.body, resp.url
    else:
        raise WatcherError(f"{target}: neither an existing file nor an http(s) URL")
    extracted = await asyncio.to_thread(extract_article, data, url)
    if extracted is not None:
        title, body, ok = extracted.title, extracted.text, True
    else:
        fallback = page_text(data)
        title, body, ok = fallback.title, fallback.text, False
    return Article(
        source=target,
        title=title,
        body=body,
        extracted=ok,
        language=detect_language(f"{title}\n{body}"),
    )


def feed_for_url(config: Config, target: str) -> FeedConfig | None:
    """The configured feed an article URL most likely came from: the one feed on its host
    (None for a file, an unknown host, or a host several feeds share)."""
    host = urlsplit(target).hostname if target.startswith(("http://", "https://")) else None
    if not host:
        return None
    bare = host.removeprefix("www.")
    found = [
        f for f in config.feeds if (urlsplit(f.url).hostname or "").removeprefix("www.") == bare
    ]
    return found[0] if len(found) == 1 else None


def explain(
    rules: RuleSet, article: Article, rule: str | None = None, feed: FeedConfig | None = None
) -> list[Verdict]:
    """Every rule's verdict, as if the article came from `feed` (rules limited by `feeds:`
    can only match an article from one of their feeds)."""
    doc = Document(
        title=article.title,
        body=article.body,
        language=article.language,
        feed=feed.name if feed else "",
        tags=feed.tags if feed else (),
    )
    verdicts = rules.explain(doc)
    if rule is not None:
        verdicts = [v for v in verdicts if v.rule == rule]
        if not verdicts:
            raise WatcherError(f"no rule named {rule!r}; known: {', '.join(rules.rule_names)}")
    return verdicts


def render(article: Article, verdicts: list[Verdict], feed: FeedConfig | None = None) -> str:
    how = "extracted article" if article.extracted else "plain text (no article markup found)"
    lines = [
        f"{article.source}",
        f"  feed: {feed.name if feed else '(none; give --feed NAME for rules limited by feeds:)'}",
        f"  title: {article.title or '(none)'}",
        f"  body: {len(article.body)} characters, {how}; language: {article.language or '?'}",
        "",
    ]
    for v in verdicts:
        lines.append(f"{'MATCH' if v.matched else 'no match'}  {v.rule}  (score {v.score:g})")
        for h in v.hits:
            lines.append(f"    {h.term!s} in {h.field}: {h.marked()}")
        if not v.matched and v.reason:
            lines.append(f"    why not: {v.reason}")
    return "\n".join(lines)
