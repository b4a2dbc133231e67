"""Story identity: guid, then canonical link, then a content hash (rss2email's order).

Pure functions; the store answers "have we seen this key / URL / hash before".
The canonical link also recognises the same story reached through another feed: tracking
parameters, fragments, default ports and host case do not make a story new.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from watcher.ingest.parse import Entry
from watcher.rules import normalise_text

_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|yclid|mc_cid|mc_eid|igshid|_ga|ref_src|cmpid|ocid|"
    r"at_medium|at_campaign|rss|from|feed|ito|sr_share)$",
    re.I,
)


def canonical_url(url: str) -> str:
    """A stable form of an article URL for equality, not for fetching."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit(
        (
            "https" if parts.scheme in ("http", "https") else parts.scheme,
            netloc,
            path,
            urlencode(query),
            "",
        )
    )


def strip_tracking(url: str) -> str:
    """The URL to fetch and show: the original minus tracking parameters and fragment."""
    parts = urlsplit(url.strip())
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


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
        return "link:" + canonical_url(entry.link)
    return "hash:" + content_hash(entry.title, entry.summary or entry.content)


def headline_changed(old: str, new: str) -> bool:
    """A material headline change: the words differ once case, accents, script and punctuation
    are folded away (so "Peace talks resume" -> "Peace Talks Resume." is not a change)."""
    return normalise_text(old) != normalise_text(new)
