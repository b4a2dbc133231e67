"""Feed bytes in, typed entries out. Pure: no network, no clock (`now` is passed in).

feedparser is given bytes in a BytesIO, never a URL or a str: with a str it may open a local
path or fetch a URL it finds in it. It is lenient by design; we accept its partial results
(bozo with entries) and fail only when nothing feed-like came out.
"""

from __future__ import annotations

import calendar
import copy
import functools
import importlib.util
import io
import json
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

import feedparser
import feedparser.api
import feedparser.mixin
import feedparser.util
import lxml.html
from lxml.etree import ParserError

from watcher.errors import ParseError
from watcher.ingest.charset import undeclared_to_utf8
from watcher.ingest.dedup import Identity, identify
from watcher.ingest.sanitize import bound_feed

MAX_ENTRIES = 1000  # a feed with more is truncated: nobody publishes that many at once
MAX_FIELD_CHARS = 200_000  # text kept per field, counted after markup is stripped
MAX_FIELD_HTML_CHARS = 5_000_000  # markup read per field: bounds lxml's time and memory
MAX_TITLE_CHARS = 2_000  # a headline; anything longer is an attack or a broken feed
_TAG = re.compile(r"<[^>]*>?")
_EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_SPACE = re.compile(r"[ \t\u00a0]+")  # \r ends a line; _CONTROL has removed \f and \v


def _speed_up_feedparser() -> None:
    """Shortcuts for some feedparser costs, each returning exactly what it would.

    Profiled, most of parse_feed's time is feedparser's, and two parts of it come from us:
    - the Content-Location we pass (relative links and permalink guids resolve against the feed
      URL, and stored guids depend on that) makes feedparser re-resolve the inherited base URI
      at every element: one urljoin per element, a third of a 20-item RSS parse. The answer
      depends only on the two strings, so a small memo gives it; long strings bypass the memo.
    - every HTML-typed field, an RSS description of plain words included, gets two SGML passes:
      relative-URI resolution, then sanitising. With no '<' or '&' there is no tag, reference or
      comment for them to find; resolution returns the text and sanitising strips it and turns
      CRLF into LF. Other text, and text that cannot be encoded as UTF-8 (the passes raise on
      it before Python 3.12), takes the real passes.
    Dropping the passes instead (resolve_relative_uris=False, sanitize_html=False) changes the
    text of broken or hostile markup and of double-encoded feeds, so feedparser keeps them.
    These are module globals, patched for the whole process: hence exact equivalence, checked
    against feedparser 6.0's code, which is why another version runs unpatched until someone
    re-reads it (tests/test_parse_golden.py then shows whether the output still matches).
    """
    mixin: Any = feedparser.mixin
    if not feedparser.__version__.startswith("6.0."):
        return
    if getattr(mixin.make_safe_absolute_uri, "_watcher_shortcut", False):
        return
    safe_uri: Callable[..., str] = mixin.make_safe_absolute_uri
    resolve: Callable[..., str] = mixin.resolve_relative_uris
    sanitize: Callable[..., str] = mixin._sanitize_html
    memo = functools.lru_cache(maxsize=256)(safe_uri)

    def make_safe_absolute_uri(base: Any, rel: Any = None) -> str:
        if type(base) is str and type(rel) is str and len(base) + len(rel) < 2048:
            return memo(base, rel)
        return safe_uri(base, rel)

    def resolve_relative_uris(html: Any, base: Any, encoding: Any, type_: Any) -> str:
        if _markup_free(html):
            return cast(str, html)
        return resolve(html, base, encoding, type_)

    def sanitize_html(html: Any, encoding: Any, type_: Any) -> str:
        if _markup_free(html):
            return cast(str, html).strip().replace("\r\n", "\n")
        return sanitize(html, encoding, type_)

    # - feedparser asks xml.sax for its preferred parser, drv_libxml2, before expat on every
    #   parse; where that module is not installed, each call is a failed import that searches
    #   sys.path under the import lock (8% of a first cycle's CPU, py-spy). Asking for none
    #   gives the same expat parser straight away.
    if importlib.util.find_spec("drv_libxml2") is None:
        feedparser.api.PREFERRED_XML_PARSERS = []

    # - each title, description and content element's parameters (type, language, base) are
    #   deep-copied into the entry: copy.deepcopy's generic reduce-and-rebuild, a tenth of a
    #   short feed's parse. Their values are str, bool or None, which deepcopy returns as
    #   they are, so a new FeedParserDict filled item by item, as deepcopy fills it, is equal.
    mixin.copy = types.SimpleNamespace(deepcopy=_deepcopy)
    make_safe_absolute_uri._watcher_shortcut = True  # type: ignore[attr-defined]
    mixin.make_safe_absolute_uri = make_safe_absolute_uri
    mixin.resolve_relative_uris = resolve_relative_uris
    mixin._sanitize_html = sanitize_html


_ATOMIC = (str, bool, type(None))


def _deepcopy(value: Any, memo: Any = None) -> Any:
    """copy.deepcopy, without its generic machinery for a FeedParserDict of atomic values."""
    if (
        type(value) is feedparser.util.FeedParserDict
        and not vars(value)
        and all(type(v) in _ATOMIC for v in dict.values(value))
    ):
        twin = feedparser.util.FeedParserDict()
        for key, item in dict.items(value):
            twin[key] = item  # through __setitem__ (key aliases), as deepcopy does
        return twin
    return copy.deepcopy(value, memo)


def _markup_free(html: Any) -> bool:
    if type(html) is not str or "<" in html or "&" in html:
        return False
    try:
        html.encode()
    except UnicodeEncodeError:
        return False
    return True


_speed_up_feedparser()


@dataclass(frozen=True)
class Entry:
    guid: str | None
    link: str | None  # absolute http(s) URL or None
    title: str
    summary: str  # plain text
    content: str  # plain text of the full content the feed carries, if any
    published_at: datetime | None  # UTC, clamped; None = undated (use first-seen)
    # Computed here, where the entry is made (in a worker process when there are workers), so
    # that neither the event loop's "seen before?" ask nor preparing the story computes it
    # again; None only if a hostile link met a bug, and that item is then skipped alone.
    identity: Identity | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            found = identify(self.guid, self.link, self.title, self.summary or self.content)
        except Exception:
            found = None
        object.__setattr__(self, "identity", found)


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    version: str
    entries: tuple[Entry, ...]
    ttl_seconds: float | None = None
    update_period: str | None = None  # RSS sy:updatePeriod (hourly, daily, ...)
    update_frequency: str | None = None  # RSS sy:updateFrequency (times per period)
    warning: str | None = None  # feedparser's complaint about a feed it still read


def parse_feed(
    body: bytes, url: str, now: datetime, headers: Mapping[str, str] | None = None
) -> ParsedFeed:
    """Parse a feed body fetched from `url` (the final URL, so relative links resolve)."""
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    response_headers.setdefault("content-location", url)
    body, detected = undeclared_to_utf8(body, headers)
    if detected and "content-type" in response_headers:  # now UTF-8: say so (text/xml
        kind = response_headers["content-type"].split(";")[0]  # alone would mean us-ascii)
        response_headers["content-type"] = f"{kind}; charset=utf-8"
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return _parse_json_feed(body, url, now)  # feedparser 6 does not read JSON Feed
    bounded = bound_feed(body, MAX_ENTRIES)
    body = bounded.body
    try:
        d: Any = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    except Exception as exc:  # feedparser should not raise, but hostile bytes find ways
        raise ParseError(f"feed could not be parsed: {type(exc).__name__}: {exc}") from exc
    warning = bounded.warning or _bozo(d)
    if not d.entries and not d.get("version"):
        reason = warning or "no RSS, Atom or JSON Feed document found"
        raise ParseError(f"not a feed: {reason}")
    if not d.entries and warning and not _benign(d.get("bozo_exception")):
        raise ParseError(f"malformed feed with no readable items: {warning}")
    entries = tuple(
        entry
        for e in d.entries[:MAX_ENTRIES]
        if isinstance(e, dict) and (entry := _entry_or_none(e, url, now)) is not None
    )
    ttl = d.feed.get("ttl")
    ttl_seconds = float(ttl) * 60 if isinstance(ttl, str) and ttl.strip().isdigit() else None
    return ParsedFeed(
        title=clean_text(d.feed.get("title", "")),
        version=d.get("version", "") or "",
        entries=tuple(e for e in entries if e.title or e.summary or e.link),
        ttl_seconds=ttl_seconds,
        update_period=_opt_text(d.feed.get("sy_updateperiod")),
        update_frequency=_opt_text(d.feed.get("sy_updatefrequency")),
        warning=warning,
    )


def _opt_text(value: Any) -> str | None:
    return value.strip()[:40] if isinstance(value, str) and value.strip() else None


def _bozo(d: Any) -> str | None:
    if not d.get("bozo"):
        return None
    exc = d.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc is not None else "malformed feed"


def _parse_json_feed(body: bytes, url: str, now: datetime) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"not a feed: invalid JSON: {exc}") from exc
    version = doc.get("version", "") if isinstance(doc, dict) else ""
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise ParseError(
            "not a feed: JSON without a jsonfeed.org version (RSS-in-JSON is not read)"
        )
    base = doc.get("home_page_url") if _is_http(doc.get("home_page_url")) else url
    entries = []
    for item in (doc.get("items") or [])[:MAX_ENTRIES]:
        if not isinstance(item, dict):
            continue
        link = next(
            (
                urljoin(base or url, v)
                for v in (item.get("url"), item.get("external_url"))
                if isinstance(v, str) and _is_http(urljoin(base or url, v))
            ),
            None,
        )
        guid = item.get("id")
        content = _str(item.get("content_html")) or _str(item.get("content_text"))
        entries.append(
            Entry(
                guid=clean_text(str(guid))[:500] if guid not in (None, "") else None,
                link=link,
                title=html_to_text(_str(item.get("title")))[:MAX_TITLE_CHARS],
                summary=html_to_text(_str(item.get("summary"))),
                content=html_to_text(content),
                published_at=_iso_date(
                    item.get("date_published") or item.get("date_modified"), now
                ),
            )
        )
    v = version.rsplit("/", 1)[-1]
    return ParsedFeed(
        title=clean_text(_str(doc.get("title"))),
        version=f"json{v.replace('.', '')}",
        entries=tuple(e for e in entries if e.title or e.summary or e.link),
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _iso_date(value: Any, now: datetime) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return _clamp(when, now)


def _clamp(when: datetime, now: datetime) -> datetime | None:
    """Future dates clamp to now; absurd pasts (before 1995) mean "undated"."""
    if when < _EARLIEST:
        return None
    return min(when, now + timedelta(minutes=5)) if when > now else when


def _benign(exc: Any) -> bool:
    """Complaints about headers or declared encodings, which do not damage the content."""
    return type(exc).__name__ in ("NonXMLContentType", "CharacterEncodingOverride")


def _entry(e: dict[str, Any], url: str, now: datetime) -> Entry:
    """dict.get, not FeedParserDict.get: none of these keys has an alias it would map (its "guid"
    is "id", read first), and its lookup costs ten times as much."""
    get = dict.get
    link = _link(e, url)
    guid = get(e, "id") or get(e, "guid")
    guid = clean_text(guid)[:500] if isinstance(guid, str) and guid.strip() else None
    content = ""
    for c in get(e, "content") or []:
        value = c.get("value") if isinstance(c, Mapping) else None
        if isinstance(value, str) and len(value) > len(content):
            content = value
    summary = get(e, "summary") or ""
    return Entry(
        guid=guid,
        link=link,
        title=html_to_text(get(e, "title") or "")[:MAX_TITLE_CHARS],
        summary=html_to_text(summary if isinstance(summary, str) else ""),
        content=html_to_text(content),
        published_at=_date(e, now),
    )


def _entry_or_none(e: dict[str, Any], url: str, now: datetime) -> Entry | None:
    """One item that cannot be read (a bug met on hostile input) is dropped; its siblings stay."""
    try:
        return _entry(e, url, now)
    except Exception:
        return None


def _link(e: dict[str, Any], url: str) -> str | None:
    candidates: list[str] = []
    link = dict.get(e, "link")
    if isinstance(link, str):
        candidates.append(link)
    for alt in dict.get(e, "links") or []:
        if isinstance(alt, Mapping) and alt.get("rel", "alternate") == "alternate":
            href = alt.get("href")
            if isinstance(href, str):
                candidates.append(href)
    for cand in candidates:
        absolute = urljoin(url, cand.strip())
        if _is_http(absolute):
            return absolute
    return None


def _is_http(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _date(e: dict[str, Any], now: datetime) -> datetime | None:
    """Published (else updated) time as naive UTC; future dates clamp to now, absurd pasts drop."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(e, key)  # FeedParserDict.get warns on aliases
        if parsed is None:
            continue
        try:
            when = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
        except (OverflowError, ValueError, OSError, TypeError):
            continue
        return _clamp(when, now)
    return None


def html_to_text(value: str) -> str:
    """Plain text from a feed's HTML fragment (feedparser has sanitised it already).

    The text, not the markup, is cut at MAX_FIELD_CHARS: markup can be most of a long post's
    bytes, and cutting it first lost mentions late in the text."""
    value = value[:MAX_FIELD_HTML_CHARS]
    if "<" not in value and "&" not in value:
        return clean_text(value[:MAX_FIELD_CHARS])
    try:
        root = lxml.html.fragment_fromstring(value, create_parent="div")
    except (ParserError, ValueError, AssertionError):
        # lxml asserts on a fragment that starts a whole document ("<html", "<!doctype"):
        # a hostile or careless title must not escape as markup either, so tags go
        return clean_text(unescape(_TAG.sub(" ", value)))[:MAX_FIELD_CHARS]
    for br in root.iter("br", "p", "div", "li", "h1", "h2", "h3", "h4", "tr"):
        br.tail = "\n" + (br.tail or "")
    return clean_text(root.text_content())[:MAX_FIELD_CHARS]


def clean_text(value: str) -> str:
    """Drop NUL/control characters and lone surrogates (databases reject them); tidy spaces."""
    value = _SPACE.sub(" ", _CONTROL.sub("", value))
    return "\n".join(filter(None, map(str.strip, value.splitlines())))
