"""`watcher explain`: one article through extract and every rule, with each verdict's reasons.

This is how a user debugs a rule: which terms were found where, and which part of the query
failed. It reads a local file or fetches one URL with the daemon's own limits and guard.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from watcher.config import Config
from watcher.errors import WatcherError
from watcher.extract import detect_language, extract_article, page_text
from watcher.fetch import Fetcher
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


def explain(rules: RuleSet, article: Article, rule: str | None = None) -> list[Verdict]:
    doc = Document(title=article.title, body=article.body, language=article.language)
    verdicts = rules.explain(doc)
    if rule is not None:
        verdicts = [v for v in verdicts if v.rule == rule]
        if not verdicts:
            raise WatcherError(f"no rule named {rule!r}; known: {', '.join(rules.rule_names)}")
    return verdicts


def render(article: Article, verdicts: list[Verdict]) -> str:
    how = "extracted article" if article.extracted else "plain text (no article markup found)"
    lines = [
        f"{article.source}",
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
