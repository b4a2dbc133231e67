"""YAML with line numbers and `${VAR}` substitution.

PyYAML's safe composer gives nodes that know their line; we convert them to plain Python values
while remembering the line of every key path, so a validation error can name `FILE:LINE`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from watcher.config.safety import MAX_NODES, expanded_nodes
from watcher.errors import Problem

Path = tuple[str | int, ...]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MAX_SECRET_FILE = 64 * 1024  # a secret file is a token or a password, not a document


@dataclass
class Source:
    """Plain values plus the line of each path (1-based; 0 = unknown)."""

    file: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    origins: dict[str, str] = field(default_factory=dict)  # VAR -> where its value came from
    constructor: yaml.constructor.SafeConstructor = field(
        default_factory=yaml.constructor.SafeConstructor
    )

    def line(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.file, self.line(path), dotted(path), message))


def dotted(path: Path) -> str:
    """`('feeds', 0, 'url')` -> `feeds[0].url`, the form users see in errors."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# libyaml's parser where PyYAML was built with it. Same resolver, so the same nodes and tags;
# for a 10,000-feed file it needs about 40% less memory for the node tree (the start-up peak,
# which the allocator keeps as the daemon's resident size) and a fifth of the CPU.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose(text: str) -> yaml.Node | None:
    """The document's node tree. A document libyaml refuses is composed again by PyYAML's own
    parser, so that a syntax error reads the same whichever parser is installed (the two word
    their errors differently, and the messages below rely on PyYAML's)."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


def load_source(file: str, text: str, env: Mapping[str, str]) -> Source:
    """Parse YAML safely; a syntax error becomes a Problem rather than an exception."""
    src = Source(file=file, data=None)
    try:
        node = compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        what = getattr(exc, "problem", None) or str(exc)
        if "'\\t'" in what:  # PyYAML's words for a tab: "found character '\t' that cannot..."
            what = "a tab character; indent with spaces, not tabs (YAML does not allow tabs)"
        src.problems.append(Problem(file, line, "", f"YAML syntax error: {what}"))
        return src
    if node is None:
        src.data = {}
        return src
    src.lines[()] = node.start_mark.line + 1
    if expanded_nodes(node) > MAX_NODES:
        src.problems.append(
            Problem(file, 1, "", f"YAML aliases expand to more than {MAX_NODES} values; refused")
        )
        return src
    src.data = _convert(node, (), src, env)
    return src


def _convert(node: yaml.Node, path: Path, src: Source, env: Mapping[str, str]) -> Any:
    src.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = src.constructor.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            src.lines[child] = key_node.start_mark.line + 1
            if key in out:
                src.problem(child, "duplicate key; each key may appear once")
            out[key] = _convert(value_node, child, src, env)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            src.lines[(*path, i)] = item.start_mark.line + 1
            items.append(_convert(item, (*path, i), src, env))
        return items
    value = src.constructor.construct_object(node)
    if isinstance(value, str):
        return _substitute(value, path, src, env)
    return value


def resolve_var(name: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """`$VAR`, else the contents of the file named by `$VAR_FILE` (Docker/Kubernetes secrets
    arrive as files), as (value, origin); None when neither is set. One trailing newline is
    dropped: `echo secret > file` should not put a newline into a password.

    Raises ValueError naming the variable and the file when the file cannot be read."""
    if name in env:
        return env[name], f"${name}"
    file_var = f"{name}_FILE"
    path = env.get(file_var)
    if not path:
        return None
    try:
        with FsPath(path).open("rb") as fh:
            data = fh.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise ValueError(
            f"{name} is unset and ${file_var} names {path!r}, which cannot be read: "
            f"{exc.strerror or exc}"
        ) from None
    if len(data) > MAX_SECRET_FILE:
        raise ValueError(f"${file_var} names {path!r}, larger than {MAX_SECRET_FILE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"${file_var} names {path!r}, which is not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    return text, f"${file_var} ({path})"


def _substitute(value: str, path: Path, src: Source, env: Mapping[str, str]) -> str:
    """Replace `${VAR}` / `${VAR:-default}`; a missing variable is an error, not an empty string."""

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        try:
            found = resolve_var(name, env)
        except ValueError as exc:
            src.problem(path, str(exc))
            return ""
        if found is not None:
            value, origin = found
            if value:
                src.secrets.add(value)
            src.origins[name] = origin
            return value
        if default is not None:
            src.origins.setdefault(name, "default")
            return default
        src.problem(
            path,
            f"environment variable {name} is not set; export it, set {name}_FILE to a file "
            f"holding it, or write ${{{name}:-default}}",
        )
        return ""

    return _VAR.sub(repl, value)
