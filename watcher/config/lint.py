"""Advice on a valid config: slips that load without error but make a rule or feed do nothing.

A config error stops `watcher check`; these are the quiet failures a desk editor would not
notice until a story is missed: a regular expression written as a term (matched literally, so
never), a feed name in `feeds:` that is really a tag, a rule with nowhere to send its alerts,
one URL polled under two names, an empty file, and (from `rules.lint`) stems short or common
enough to match thousands of words. Each warning says what to do. `check` prints
them (exit 2 with `--strict`), and the daemon logs them on every reload. Pure: config and the
file's text in, messages out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

import yaml

from watcher.config.model import Config, RuleConfig
from watcher.config.source import compose
from watcher.rules.lint import term_warnings

# What a regular expression has and a word or phrase does not (a leading ^ is not among them:
# `^term` pins a term to its script).
REGEX_HINTS = re.compile(r"\||\\[bdwsBDWS]|\.\*|\.\+|\[[^\]]+\]|\$$|\(\?")

Path = tuple[str | int, ...]


def lint(config: Config, text: str | None = None) -> list[str]:
    """Every warning as `FILE:LINE: path.to.key: warning: message`, in file order."""
    lines = _LineFinder(text)
    found = [(lines.line(path), path, message) for path, message in _warnings(config)]
    return [
        f"{config.path}:{line}: {_dotted(path) or '(top)'}: warning: {message}"
        for line, path, message in sorted(found, key=lambda w: w[0])
    ]


def refusal(old: Config, new: Config) -> str | None:
    """Why a hot reload must keep the running config although the new one is valid: an editor
    that truncates the file before writing it, or a half-saved file, would stop all watching."""
    if old.feeds and not new.feeds:
        return f"the new file has no feeds (the running config has {len(old.feeds)})"
    if old.rules and not new.rules:
        return f"the new file has no rules (the running config has {len(old.rules)})"
    return None


def _warnings(config: Config) -> Iterator[tuple[Path, str]]:
    if not config.feeds and not config.rules:
        yield (
            (),
            "no feeds and no rules: nothing will be watched "
            "(the bundled config/watcher.yaml is a complete example)",
        )
    elif not config.feeds:
        yield (), "no feeds: the rules have nothing to match (add feeds: entries)"
    elif not config.rules:
        yield (), "no rules: stories are stored but nothing ever matches (add rules: entries)"
    yield from _duplicate_urls(config)
    # once, not per rule: 1,000 rules x 10,000 feeds was seconds of every check and reload
    names = {f.name for f in config.feeds}
    tags = {t for f in config.feeds for t in f.tags}
    for i, rule in enumerate(config.rules):
        yield from _rule_warnings(config, i, rule, names, tags)
        for warning in term_warnings([rule.spec], {}):
            yield ("rules", i), warning.removeprefix(f"rule '{rule.name}': ")
    for name, words in config.terms:
        for j, word in enumerate(words):
            if REGEX_HINTS.search(word):
                yield ("terms", name, j), _regex_message(word)
        for warning in term_warnings([], {name: words}):
            yield ("terms", name), warning.removeprefix(f"term list '{name}': ")


def _duplicate_urls(config: Config) -> Iterator[tuple[Path, str]]:
    seen: dict[str, str] = {}
    for i, feed in enumerate(config.feeds):
        key = _url_key(feed.url)
        if key in seen:
            yield (
                ("feeds", i, "url"),
                f"feed {feed.name!r} has the same URL as feed {seen[key]!r}: it would be polled "
                "twice and its stories reported as coming from two sources; keep one entry",
            )
        else:
            seen[key] = feed.name


def _url_key(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}?{parts.query}"


def _rule_warnings(
    config: Config, i: int, rule: RuleConfig, names: set[str], tags: set[str]
) -> Iterator[tuple[Path, str]]:
    spec = rule.spec
    for j, entry in enumerate(spec.feeds):
        if entry.startswith("tag:"):
            if entry[4:] not in tags:
                yield (
                    ("rules", i, "feeds", j),
                    f"no feed has the tag {entry[4:]!r}, so rule {rule.name!r} never matches "
                    f"(tags in use: {', '.join(sorted(tags)) or 'none'})",
                )
        elif entry not in names:
            hint = (
                f"; {entry!r} is a tag: write 'tag:{entry}'"
                if entry in tags
                else f" (feeds: {', '.join(sorted(names)) or 'none'})"
            )
            yield (
                ("rules", i, "feeds", j),
                f"no feed is named {entry!r}, so rule {rule.name!r} never matches it{hint}",
            )
    if not rule.notify and config.notifiers:
        known = ", ".join(n.name for n in config.notifiers)
        yield (
            ("rules", i),
            f"rule {rule.name!r} has no notify: its matches are stored but no alert is sent "
            f"(add notify: [{known}], or ignore this if that is what you want)",
        )
    for key, words in (("any", spec.any), ("all", spec.all), ("none", spec.none)):
        for j, word in enumerate(words):
            if REGEX_HINTS.search(word):
                yield ("rules", i, key, j), _regex_message(word)
    if spec.query and REGEX_HINTS.search(spec.query.replace("\\", "")) and "|" in spec.query:
        yield ("rules", i, "query"), _regex_message(spec.query)


def _regex_message(term: str) -> str:
    words = [w for w in re.split(r"[|()^$\\]+", term) if w.strip()]
    alternative = " OR ".join(words) if len(words) > 1 else "the plain word"
    return (
        f"{term!r} looks like a regular expression, but terms are words and phrases, so it "
        f"matches only that literal text and the rule may never fire; write {alternative} "
        "in a query, or list the words under any:"
    )


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _LineFinder:
    """Lines of YAML paths, read from the file's node tree (1-based; 1 when unknown)."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.composed = False
        self.root: yaml.Node | None = None

    def _root(self) -> yaml.Node | None:
        """Composed at the first warning: most configs have none, and composing a 10,000-feed
        file again on every check and reload costs seconds of CPU and tens of MB at the peak."""
        if not self.composed:
            self.composed = True
            try:
                self.root = compose(self.text) if self.text else None
            except yaml.YAMLError:
                self.root = None
        return self.root

    def line(self, path: Sequence[str | int]) -> int:
        node, line = self._root(), 1
        for part in path:
            child = self._child(node, part)
            if child is None:
                break
            node, line = child, child.start_mark.line + 1
        return line

    @staticmethod
    def _child(node: yaml.Node | None, part: str | int) -> yaml.Node | None:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            return next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            return node.value[part] if part < len(node.value) else None
        return None
