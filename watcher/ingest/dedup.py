"""Story identity: guid, then canonical link, then a content hash (rss2email's order).

Pure functions; the store answers "have we seen this key / URL / hash before".
The canonical link also recognises the same story reached through another feed: tracking
parameters, fragments, default ports, host case, `www.`, the order of query parameters,
percent-encoding (a non-ASCII path written plainly or encoded, `%7E` or `~`) and an IDN host
or its punycode do not make a story new. The spelling rules are w3lib's `canonicalize_url`
(Scrapy's, kept up by people who meet every odd URL the web has); the rules above it are ours.

Feeds are hostile input: no URL, however malformed (a port out of range, a broken IPv6
literal, a host IDNA cannot encode), makes these functions raise.

Migration 0004 holds a frozen copy of `canonical_url` to rewrite the links stored before it;
a change to the canonical form needs a migration of its own, or stored stories alert again.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

from watcher.rules import normalise_text

if TYPE_CHECKING:
    from watcher.ingest.parse import Entry

_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|yclid|mc_cid|mc_eid|igshid|_ga|ref_src|cmpid|ocid|"
    r"at_medium|at_campaign|rss|from|feed|ito|sr_share)$",
    re.I,
)
# A link with nothing for strip_tracking or the spelling rules to change but what the shortcut
# in _canonical_stripped changes itself. Labels are plain ASCII, not punycode ("xn--", which
# IDNA checks), and no path segment is "." or ".." (dot segments) or empty (an empty segment
# only as a trailing slash).
_PLAIN = re.compile(
    r"https?://(?P<host>(?!xn--)[A-Za-z0-9-]+(?:\.(?!xn--)[A-Za-z0-9-]+)*)"
    r"(?P<path>(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?)",
    re.ASCII,
)
_DEFAULT_PORTS = ("80", "443")  # either, whatever the scheme: http:443 is https's story
# The widths of stories.key and stories.canonical_url (tests/test_dedup.py checks they agree).
# Percent-encoding makes a non-ASCII link up to six times longer, and a value over the width
# fails the poll's insert on PostgreSQL, so a longer one is stored as its digest.
MAX_KEY = 600
MAX_URL = 2000


@dataclass(frozen=True)
class Identity:
    """Everything that tells an entry apart, computed once per entry (see `identify`): the
    store's "seen before?" asks and the stored story both read it."""

    key: str  # identity_key
    url: str | None  # strip_tracking(link): the link to fetch and show
    canonical_url: str | None  # canonical_url(link)
    content_hash: str  # content_hash(title, summary or content)


def identify(guid: str | None, link: str | None, title: str, text: str) -> Identity:
    """An entry's Identity, equal field by field to what identity_key, strip_tracking,
    canonical_url and content_hash give one by one, with the link stripped and canonicalised
    once (identity_key and the "seen before?" ask each canonicalised it again)."""
    digest = content_hash(title, text)
    if not link:
        return Identity(f"guid:{guid}" if guid else f"hash:{digest}", None, None, digest)
    stripped = strip_tracking(link)
    canon = _limited(_canonical_stripped(stripped))
    return Identity(_key(guid, canon), stripped, canon, digest)


def canonical_url(url: str) -> str:
    """A stable form of an article URL for equality, not for fetching (its digest when it
    is longer than the column that holds it)."""
    return _limited(_canonical_stripped(strip_tracking(url)))


def _limited(canon: str) -> str:
    return canon if len(canon) <= MAX_URL else "sha256:" + _digest(canon)


def _canonical_stripped(stripped: str) -> str:
    """The canonical form of a link that strip_tracking has already been applied to.

    Most article links are already spelled canonically but for the scheme, host case, `www.`
    and a trailing slash: an http(s) scheme, an ASCII host without port or user, a path of
    unreserved characters only, no query. For those the spelling rules below have nothing to
    do (tests/test_dedup.py checks the shortcut against them), and they cost ten times as much.
    """
    plain = _PLAIN.fullmatch(stripped)
    if plain is not None:
        host = plain["host"].lower().removeprefix("www.")
        path = plain["path"] or "/"
        return f"https://{host}{path.rstrip('/') if len(path) > 1 else path}"
    return _canonical_general(stripped)


def _canonical_general(stripped: str) -> str:
    parts = _split(stripped)
    if parts is None:
        return stripped
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6: urlsplit took the brackets off
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    try:
        # No port or user info past this point: w3lib raises on a port out of range.
        spelled = urlsplit(
            canonicalize_url(urlunsplit((scheme, host, parts.path, parts.query, "")))
        )
    except (ValueError, UnicodeError):
        spelled = SplitResult(scheme, host, parts.path, parts.query, "")
    host = spelled.netloc.removeprefix("www.")
    port = _port(parts)
    netloc = host if port in (None, *_DEFAULT_PORTS) else f"{host}:{port}"
    path = spelled.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit((spelled.scheme, netloc, path, spelled.query, ""))


def strip_tracking(url: str) -> str:
    """The URL to fetch and show: the original minus tracking parameters and fragment."""
    url = url.strip()
    if _PLAIN.fullmatch(url):
        return url  # no query, no fragment, nothing to re-spell: urlunsplit(urlsplit(url)) == url
    url = _whole(url)
    parts = _split(url)
    if parts is None:
        return url.partition("#")[0]
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _whole(text: str) -> str:
    """Lone surrogates (no XML parser lets them through, but a str can hold them) as U+FFFD,
    so that encoding the URL to UTF-8 cannot raise."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _split(url: str) -> SplitResult | None:
    """urlsplit, or None for what it refuses (an unclosed IPv6 bracket, say)."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _port(parts: SplitResult) -> str | None:
    """The port as written, digits only when valid: `parts.port` raises ValueError for a port
    out of range or not a number, and one such link once aborted a whole run."""
    try:
        port = parts.port
    except ValueError:
        raw = parts.netloc.rpartition("@")[2]
        if raw.endswith("]"):
            return None
        return raw.rpartition(":")[2] or None
    return None if port is None else str(port)


def content_hash(title: str, text: str) -> str:
    """Hash of the normalised title and text, so whitespace/case edits do not make a story new."""
    norm = unicodedata.normalize("NFKC", f"{title}\n{text}").casefold()
    norm = " ".join(norm.split())
    return hashlib.sha256(norm.encode("utf-8", "surrogatepass")).hexdigest()


def identity_key(entry: Entry) -> str:
    """The key that makes an entry the same story on the next poll of the same feed."""
    if entry.guid:
        return "guid:" + entry.guid
    if entry.link:
        return _key(None, canonical_url(entry.link))
    return "hash:" + content_hash(entry.title, entry.summary or entry.content)


def _key(guid: str | None, canon: str) -> str:
    if guid:
        return "guid:" + guid
    key = "link:" + canon
    return key if len(key) <= MAX_KEY else "link-sha256:" + _digest(canon)


def headline_changed(old: str, new: str) -> bool:
    """A material headline change: the words differ once case, accents, script and punctuation
    are folded away (so "Peace talks resume" -> "Peace Talks Resume." is not a change)."""
    return normalise_text(old) != normalise_text(new)
