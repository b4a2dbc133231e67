"""OPML subscription lists in, feed entries out. Pure: bytes in, data out.

Nested outlines are folders; their titles (and any `category` attribute) become tags. lxml
parses with entity resolution and network access off, since an OPML file may come from anyone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

import yaml
from lxml import etree

from watcher.errors import ParseError


@dataclass(frozen=True)
class OpmlFeed:
    name: str
    url: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dropped:
    """An outline that is not imported, and why, so nothing is left out silently."""

    title: str
    url: str
    reason: str


def parse_opml(
    data: bytes,
    dropped: list[Dropped] | None = None,
    taken: frozenset[str] = frozenset(),
    known_urls: frozenset[str] = frozenset(),
) -> list[OpmlFeed]:
    """Every http(s) feed in the file, with unique names derived from titles (never one of
    `taken`) and none of `known_urls` (compared without a trailing slash); outlines that are
    not imported are appended to `dropped` with the reason."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, recover=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not an OPML file: {exc}") from exc
    if root.tag != "opml" or root.find("body") is None:
        raise ParseError("not an OPML file: expected <opml> with a <body>")
    out: list[OpmlFeed] = []
    used: set[str] = set(taken)
    known = frozenset(u.rstrip("/") for u in known_urls)
    _walk(root.find("body"), (), out, used, dropped if dropped is not None else [], known)
    return out


def _walk(
    node: etree._Element,
    folders: tuple[str, ...],
    out: list[OpmlFeed],
    used: set[str],
    dropped: list[Dropped],
    known: frozenset[str],
) -> None:
    for child in node.iterfind("outline"):
        url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
        title = (child.get("title") or child.get("text") or "").strip()
        categories = tuple(
            _tag(c) for c in re.split(r"[,/]", child.get("category") or "") if _tag(c)
        )
        if url:
            parts = urlsplit(url)
            if url.rstrip("/") in known:
                dropped.append(Dropped(title, url, "already in the config"))
            elif parts.scheme in ("http", "https") and parts.netloc:
                name = _unique(_slug(title) or _slug(parts.netloc), used)
                tags = tuple(dict.fromkeys((*folders, *categories)))
                out.append(OpmlFeed(name=name, url=url, tags=tags))
            else:
                dropped.append(Dropped(title, url, "not an http(s) URL"))
        elif child.find("outline") is not None:
            folder = _tag(title)
            _walk(child, (*folders, folder) if folder else folders, out, used, dropped, known)
        elif child.get("htmlUrl") or child.get("url"):
            link = child.get("htmlUrl") or child.get("url") or ""
            dropped.append(Dropped(title, link, "a web page, not a feed (no xmlUrl)"))
        elif title:
            dropped.append(Dropped(title, "", "no feed URL (xmlUrl) and nothing inside"))


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _tag(text: str) -> str:
    return _slug(text.strip())


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name or "feed", 2
    while candidate in used:
        candidate, n = f"{name}-{n}", n + 1
    used.add(candidate)
    return candidate


def to_yaml(feeds: list[OpmlFeed]) -> str:
    """Entries ready to paste under the config's `feeds:` key (which it already has, so no
    second `feeds:` line that would make a duplicate key)."""
    lines = []
    for f in feeds:
        entry: dict[str, object] = {"name": f.name, "url": f.url}
        if f.tags:
            entry["tags"] = list(f.tags)
        dumped = yaml.safe_dump(entry, default_flow_style=True, allow_unicode=True, width=1000)
        lines.append(f"  - {dumped.strip()}")
    return "".join(line + "\n" for line in lines)
