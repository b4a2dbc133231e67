"""Output feeds: matches as Atom 1.0, per rule and for all rules, for any feed reader.

Built with ElementTree, so every feed-sourced string is escaped by the serialiser; characters
XML 1.0 cannot carry (control characters a hostile feed may contain) are dropped first. Entry
ids are derived from (story, rule), so they stay the same however often a reader polls, and
links are given only when they are http(s).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated
from xml.etree import ElementTree as ET

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from watcher.store.views import MatchView

router = APIRouter(tags=["feeds"])

ATOM = "http://www.w3.org/2005/Atom"
NAMESPACE = uuid.UUID("6f1c8c40-58a4-4c57-9a53-0a5d3c1f2a10")
ENTRIES = 50
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def safe_link(url: str | None) -> str | None:
    if url and url.lower().startswith(("http://", "https://")) and not _XML_INVALID.search(url):
        return url
    return None


def entry_id(story_id: int, rule: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'match/{story_id}/{rule}')}"


def _stamp(d: datetime) -> str:
    from watcher.web.api import iso

    return iso(d) or ""


def render_feed(
    title: str, feed_id: str, self_url: str, rows: list[MatchView], now: datetime
) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = clean(title)
    ET.SubElement(feed, f"{{{ATOM}}}id").text = feed_id
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _stamp(rows[0].matched_at if rows else now)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=self_url)
    ET.SubElement(feed, f"{{{ATOM}}}generator").text = "watcher"
    for m in rows:
        e = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(e, f"{{{ATOM}}}id").text = entry_id(m.story_id, m.rule)
        ET.SubElement(e, f"{{{ATOM}}}title").text = clean(m.title) or "(untitled)"
        ET.SubElement(e, f"{{{ATOM}}}updated").text = _stamp(m.matched_at)
        if m.published_at is not None:
            ET.SubElement(e, f"{{{ATOM}}}published").text = _stamp(m.published_at)
        author = ET.SubElement(e, f"{{{ATOM}}}author")
        ET.SubElement(author, f"{{{ATOM}}}name").text = clean(m.feed)
        if (link := safe_link(m.url)) is not None:
            ET.SubElement(e, f"{{{ATOM}}}link", rel="alternate", href=link)
        ET.SubElement(e, f"{{{ATOM}}}category", term=clean(m.rule), label=f"rule {clean(m.rule)}")
        for term in m.terms:
            ET.SubElement(e, f"{{{ATOM}}}category", term=clean(term), scheme="urn:watcher:term")
        lines = [f"Rule: {m.rule}", f"Matched terms: {', '.join(m.terms)}"]
        if m.snippet:
            lines.append(f"… {m.snippet} …")
        lines.append(
            f"Also reported by: {', '.join(m.sources)}" if m.sources else f"Source: {m.feed}"
        )
        ET.SubElement(e, f"{{{ATOM}}}summary", type="text").text = clean("\n".join(lines))
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + bytes(ET.tostring(feed, encoding="utf-8"))


def _atom(body: bytes) -> Response:
    return Response(body, media_type="application/atom+xml; charset=utf-8")


Limit = Annotated[int, Query(ge=1, le=200)]


@router.get(
    "/feeds/all.atom",
    summary="Atom feed of the newest matches of every rule",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def all_feed(request: Request, limit: Limit = ENTRIES) -> Response:
    from watcher.store.views import match_page
    from watcher.web.server import state_of

    web = state_of(request)
    rows = match_page(web.store, limit=limit)
    return _atom(
        render_feed(
            "watcher: all matches", "urn:watcher:feed:all", str(request.url), rows, web.clock()
        )
    )


@router.get(
    "/feeds/rule/{name}.atom",
    summary="Atom feed of one rule's newest matches",
    response_class=Response,
    responses={
        200: {"content": {"application/atom+xml": {}}},
        404: {"description": "No such rule"},
    },
)
def rule_feed(request: Request, name: str, limit: Limit = ENTRIES) -> Response:
    from watcher.store.views import match_page
    from watcher.web.server import state_of

    web = state_of(request)
    names = [r.name for r in web.config().rules]
    if name not in names:
        raise HTTPException(404, f"no rule named {name!r}; rules: {', '.join(names) or 'none'}")
    rows = match_page(web.store, rule=name, limit=limit)
    feed_id = f"urn:uuid:{uuid.uuid5(NAMESPACE, f'rule/{name}')}"
    return _atom(render_feed(f"watcher: {name}", feed_id, str(request.url), rows, web.clock()))
