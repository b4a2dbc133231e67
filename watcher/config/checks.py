"""Checks that need more than one key: names that must be unique, notifiers a rule or
`health_notify` refers to, queries compiled against the term lists, OPML files read.

They run on every entry that is valid on its own, even when another part of the file is not,
so one `watcher check` lists every problem rather than the first layer of them.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from watcher.config.model import FeedConfig, OpmlEntry, PollingConfig, RetentionConfig, RuleEntry
from watcher.config.opml import parse_opml
from watcher.config.problems import to_problems
from watcher.config.source import Path, Source
from watcher.config.types import Name, TermList
from watcher.errors import ParseError
from watcher.rules import validate_rules

M = TypeVar("M", bound=BaseModel)
_TERMS: TypeAdapter[tuple[str, ...]] = TypeAdapter(TermList)
_NAME: TypeAdapter[str] = TypeAdapter(Name)


def salvage(model: type[M], item: Any) -> M | None:
    """`item` validated alone, without the keys at fault if need be (their errors are reported
    elsewhere): a rule with a bad `priority` still has its query and notifiers checked."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        if not isinstance(item, dict):
            return None
        bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
    try:
        return model.model_validate({k: v for k, v in item.items() if k not in bad})
    except ValidationError:
        return None


def valid_entries(model: type[M], raw: Any) -> list[tuple[int, M]]:
    """The entries of a list that validate alone, or once their bad keys are left out."""
    found = (
        (i, salvage(model, item)) for i, item in enumerate(raw if isinstance(raw, list) else [])
    )
    return [(i, entry) for i, entry in found if entry is not None]


def valid_terms(raw: Any) -> dict[str, tuple[str, ...]]:
    out = {}
    for name, value in (raw if isinstance(raw, dict) else {}).items():
        try:
            out[_NAME.validate_python(name)] = _TERMS.validate_python(value)
        except ValidationError:
            continue
    return out


def check_section_bounds(src: Source, data: dict[str, Any]) -> None:
    """A section's checks across its keys (min_interval <= max_interval) run only when each
    key is valid; when some are not, run them again on the rest, so they are not missed."""
    for key, model in (("polling", PollingConfig), ("retention", RetentionConfig)):
        raw = data.get(key)
        if not isinstance(raw, dict):
            continue
        try:
            model.model_validate(raw)
            continue
        except ValidationError as exc:
            bad = {e["loc"][0] for e in exc.errors() if e["loc"] and e["type"] != "config_key"}
        try:
            model.model_validate({k: v for k, v in raw.items() if k not in bad})
        except ValidationError as exc:
            found = to_problems(exc, src, model, (key,))
            src.problems += [p for p in found if p not in src.problems]


def notifier_names(data: dict[str, Any]) -> set[str]:
    raw = data.get("notifiers")
    return set(raw) if isinstance(raw, dict) else set()


def check_health_notify(src: Source, data: dict[str, Any]) -> None:
    polling = data.get("polling")
    targets = polling.get("health_notify") if isinstance(polling, dict) else None
    targets = [targets] if isinstance(targets, str) else targets
    known = notifier_names(data)
    for j, target in enumerate(targets if isinstance(targets, list) else []):
        if isinstance(target, str) and target not in known:
            src.problem(
                ("polling", "health_notify", j),
                f"unknown notifier {target!r}; define it under notifiers:",
            )


def check_rules(src: Source, data: dict[str, Any]) -> list[RuleEntry]:
    """Unique names, known notifiers, queries that compile; returns the rules valid alone."""
    entries = valid_entries(RuleEntry, data.get("rules"))
    notifiers = notifier_names(data)
    seen: set[str] = set()
    by_name: dict[str, Path] = {}
    for i, rule in entries:
        p: Path = ("rules", i)
        if rule.name in seen:
            src.problem(
                (*p, "name"), f"rule name {rule.name!r} is used twice; names must be unique"
            )
        seen.add(rule.name)
        by_name[rule.name] = p
        for j, target in enumerate(rule.notify):
            if target not in notifiers:
                known = ", ".join(sorted(notifiers)) or "none defined"
                src.problem(
                    (*p, "notify", j),
                    f"unknown notifier {target!r}; define it under notifiers: (known: {known})",
                )
    specs = [rule.spec() for _, rule in entries]
    for err in validate_rules(specs, valid_terms(data.get("terms"))):
        path = by_name.get(err.rule, ("rules",))
        key = "query" if len(path) > 1 and "query" in data["rules"][path[1]] else "name"
        where = (
            f" (at character {err.position + 1} of the query)" if err.position is not None else ""
        )
        src.problem((*path, key), err.detail + where)
    return [rule for _, rule in entries]


def check_feeds(src: Source, data: dict[str, Any]) -> list[FeedConfig]:
    """Feed entries and the feeds of OPML entries, with names unique across both."""
    raw = data.get("feeds")
    feeds: list[FeedConfig] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        p: Path = ("feeds", i)
        if isinstance(item, dict) and "opml" in item:
            for f in _opml_feeds(src, item, p):
                if f.name in seen:
                    src.problem(
                        (*p, "opml"),
                        f"feed name {f.name!r} from the OPML file is already used; "
                        "rename one of them",
                    )
                    continue
                seen[f.name] = i
                feeds.append(f)
            continue
        feed = salvage(FeedConfig, item)
        if feed is None:
            continue
        if feed.name in seen:
            src.problem(
                (*p, "name"), f"feed name {feed.name!r} is already used by feeds[{seen[feed.name]}]"
            )
        seen[feed.name] = i
        feeds.append(feed)
    return feeds


def _opml_feeds(src: Source, item: dict[str, Any], p: Path) -> list[FeedConfig]:
    try:
        entry = OpmlEntry.model_validate(item)
    except ValidationError:
        return []
    path = FsPath(src.file).parent / entry.opml
    try:
        found = parse_opml(path.read_bytes())
    except OSError as exc:
        src.problem((*p, "opml"), f"cannot read OPML file {str(path)!r}: {exc.strerror}")
        return []
    except ParseError as exc:
        src.problem((*p, "opml"), f"{path}: {exc}")
        return []
    out = []
    for f in found:
        try:
            out.append(
                FeedConfig(
                    name=f.name,
                    url=f.url,
                    interval=entry.interval,
                    tags=tuple(dict.fromkeys((*entry.tags, *f.tags))),
                    extract=entry.extract,
                )
            )
        except ValidationError as exc:
            src.problem((*p, "opml"), f"{path}: feed {f.name!r}: {exc.errors()[0]['msg']}")
    return out
