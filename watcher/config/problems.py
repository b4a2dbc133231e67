"""pydantic's validation errors, said as `FILE:LINE: path.to.key: message`.

pydantic reports a location such as `('feeds', 0, '<short>', 'url')`: the YAML path plus the
tags of the unions it chose between (a feed or an OPML entry, a URL or a mapping). The tags are
dropped for the user, but kept to find which model an unknown key was offered to, so the
"did you mean" names the keys of that model only.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from watcher.config.source import Path, Source, dotted
from watcher.errors import Problem

_KEY = "[key]"  # pydantic's marker for an error in a mapping's key rather than its value


def _is_tag(part: str | int) -> bool:
    return isinstance(part, str) and part.startswith("<") and part.endswith(">")


def yaml_path(loc: tuple[str | int, ...]) -> Path:
    return tuple(p for p in loc if not _is_tag(p) and p != _KEY)


def to_problems(
    exc: ValidationError, src: Source, root: type[BaseModel], at: Path = ()
) -> list[Problem]:
    """One Problem per error; `at` is where `root` sits in the file when it is a section."""
    out = []
    for err in exc.errors():
        path, message = _explain(err, root)
        path = (*at, *path)
        out.append(Problem(src.file, src.line(path), dotted(path), message))
    return out


def _explain(err: ErrorDetails, root: type[BaseModel]) -> tuple[Path, str]:
    loc, kind, ctx = tuple(err["loc"]), err["type"], err.get("ctx") or {}
    path = yaml_path(loc)
    if kind == "config_key":
        return (*path, str(ctx["key"])), str(ctx["message"])
    if kind == "extra_forbidden":
        allowed = allowed_keys(root, loc[:-1])
        hint = closest(str(path[-1]), allowed)
        return path, (
            f"unknown key{f'; did you mean {hint!r}?' if hint else ''} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )
    if kind == "missing":
        return path, "is required"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return path, f"expected a mapping of keys, got {type(err['input']).__name__}"
    if kind in ("tuple_type", "list_type"):
        return path, f"expected a list, got {type(err['input']).__name__}"
    if kind == "value_error" and "error" in ctx:
        return path, str(ctx["error"])
    return path, err["msg"]


def closest(key: str, allowed: set[str]) -> str | None:
    found = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.7)
    return found[0] if found else None


def allowed_keys(root: type[BaseModel], loc: tuple[str | int, ...]) -> set[str]:
    """The keys of the model(s) found at `loc`, walking the type annotations from `root`."""
    current: list[tuple[Any, frozenset[str]]] = _expand(root)
    for part in loc:
        if _is_tag(part):
            current = [(t, tags) for t, tags in current if part in tags]
            continue
        nxt: list[tuple[Any, frozenset[str]]] = []
        for t, _ in current:
            origin, args = get_origin(t), get_args(t)
            if isinstance(t, type) and issubclass(t, BaseModel) and part in t.model_fields:
                nxt += _expand(t.model_fields[str(part)].annotation)
            elif origin in (tuple, list) and isinstance(part, int) and args:
                nxt += _expand(args[0])
            elif origin is dict and isinstance(part, str) and len(args) == 2:
                nxt += _expand(args[1])
        current = nxt
    keys: set[str] = set()
    for t, _ in current:
        if isinstance(t, type) and issubclass(t, BaseModel):
            keys |= set(t.model_fields)
    return keys


def _expand(t: Any, tags: frozenset[str] = frozenset()) -> list[tuple[Any, frozenset[str]]]:
    """`t` without Annotated wrappers, a union as its members, each with the tags it carries."""
    if get_origin(t) is Annotated:
        inner, *meta = get_args(t)
        more = {m.tag for m in meta if isinstance(m, Tag)}
        return _expand(inner, tags | more)
    if get_origin(t) in (Union, types.UnionType):
        return [x for member in get_args(t) for x in _expand(member, tags)]
    return [(t, tags)]
