"""Two guards on the config's way in and out: YAML aliases bounded, and secrets kept out of the
problems `watcher check` prints.

Why aliases: YAML lets a node be reused by reference (`&a` / `*a`), so nine lines of nine
references each describe 9^9 nodes; the composer shares them, but turning them into plain
values (with a line for every key path) expands every copy: a 361-byte config took 11.8 s and
1.25 GB. The expanded size is counted on the shared graph first, in time linear in the file.

Why problems: a message may quote the value it refused, and a value may be a Telegram token,
a mailto password or whatever `${VAR}` stood for. The run-time log filter masks them once the
config is loaded; an invalid config never gets that far, so its problems are masked here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import yaml

from watcher.errors import Problem
from watcher.logs import mask

MAX_NODES = 100_000  # a config with thousands of feeds and terms has a few tens of thousands


def expanded_nodes(root: yaml.Node, limit: int = MAX_NODES) -> int:
    """How many nodes the document has once every alias is expanded, counting stops past
    `limit` (so the answer is exact up to it). Shared subtrees are sized once."""
    sizes: dict[int, int] = {}
    # iterative post-order: a hostile document may also nest deeply
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not done:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        sizes[id(node)] = min(limit + 1, 1 + sum(sizes.get(id(c), 0) for c in children))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def redact(problems: Iterable[Problem], data: Any, secrets: Iterable[str]) -> list[Problem]:
    """`problems` with every substituted value and every credential-looking part of any URL in
    the config (`data`, as parsed) masked, as the run-time logs mask them."""
    from watcher.config.load import url_secrets

    found = set(secrets)
    for text in _strings(data):
        if "://" in text:
            found |= url_secrets(text)
    found = {s for s in found if len(s) >= 4}
    if not found:
        return list(problems)
    return [
        dataclasses.replace(p, message=mask(p.message, found), path=mask(p.path, found))
        for p in problems
    ]


def _strings(data: Any) -> Iterable[str]:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
