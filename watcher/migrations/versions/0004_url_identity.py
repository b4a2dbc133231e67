"""url identity: stored canonical links and link keys rewritten in the w3lib-based form

Revision ID: 0004_url_identity
Revises: 0003_health_outbox
Create Date: 2026-12-03 10:15:00

The canonical link changed: query parameters sorted, percent-encoding normalised (a non-ASCII
path plain or encoded, `%7E` or `~`), IDN hosts in punycode. A story stored before keeps the
old form in `canonical_url` and in its `link:` key, so without this rewrite the next poll would
find it new and alert it again. Each stored `url` (the link minus tracking parameters and
fragment) is canonicalised again.

Frozen: the canonical form of this revision is copied below, not imported from watcher (the
live code may move on; this revision must not). Its spelling rules are w3lib's, pinned to 2.x
in pyproject. A later change to the form needs a migration of its own. When two stories of a
feed, stored apart under the old form, now have the same link key, the one already holding it
(else the first by id) has it and the others keep their old keys (the key is unique per feed);
all of them get the new canonical link, which the lookup also uses.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from alembic import op
from w3lib.url import canonicalize_url

revision = "0004_url_identity"
down_revision = "0003_health_outbox"
branch_labels = None
depends_on = None

BATCH = 1000
MAX_KEY = 600
MAX_URL = 2000

_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|yclid|mc_cid|mc_eid|igshid|_ga|ref_src|cmpid|ocid|"
    r"at_medium|at_campaign|rss|from|feed|ito|sr_share)$",
    re.I,
)


def upgrade() -> None:
    _rewrite(_canonical, _link_key)


def downgrade() -> None:
    _rewrite(_canonical_before, lambda url: "link:" + url)


def _rewrite(canonical: Callable[[str], str], link_key: Callable[[str], str]) -> None:
    """Every story with a link gets `canonical(url)`, and its link key `link_key` of that
    unless another story of its feed holds that key already."""
    conn = op.get_bind()
    stories = sa.table(
        "stories",
        sa.column("id", sa.Integer),
        sa.column("feed", sa.String),
        sa.column("key", sa.String),
        sa.column("url", sa.Text),
        sa.column("canonical_url", sa.String),
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(
                stories.c.id, stories.c.feed, stories.c.key, stories.c.url, stories.c.canonical_url
            )
            .where(stories.c.url.is_not(None), stories.c.id > last)
            .order_by(stories.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        stored = {sid: was for sid, _, _, _, was in rows}
        wanted = [(sid, feed, key, canonical(url)) for sid, feed, key, url, _ in rows]
        # keys already held, by this batch's stories or others (a story keeping its key too)
        moves = {(feed, link_key(url)) for _, feed, key, url in wanted if _is_link(key)}
        taken: set[tuple[str, str]] = set()
        if moves:
            held = sa.select(stories.c.feed, stories.c.key).where(
                stories.c.key.in_(sa.bindparam("keys", expanding=True))
            )
            found = conn.execute(held, {"keys": sorted({k for _, k in moves})})
            taken = {(feed, key) for feed, key in found}
        changes = []
        for sid, feed, key, url in wanted:
            new_key = key
            if _is_link(key) and (feed, link_key(url)) not in taken:
                new_key = link_key(url)
                taken.add((feed, new_key))
            if new_key != key or url != stored[sid]:
                changes.append({"sid": sid, "new_key": new_key, "new_url": url})
        if not changes:
            continue
        conn.execute(
            stories.update()
            .where(stories.c.id == sa.bindparam("sid"))
            .values(key=sa.bindparam("new_key"), canonical_url=sa.bindparam("new_url")),
            changes,
        )


def _is_link(key: str) -> bool:
    return key.startswith(("link:", "link-sha256:"))


# -- the canonical form of this revision (watcher.ingest.dedup as of 0004) -------------------


def _canonical(url: str) -> str:
    canon = _spelled(url)
    return canon if len(canon) <= MAX_URL else "sha256:" + _digest(canon)


def _link_key(url: str) -> str:
    key = "link:" + url
    return key if len(key) <= MAX_KEY else "link-sha256:" + _digest(url)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _spelled(url: str) -> str:
    stripped = _strip_tracking(url)
    parts = _split(stripped)
    if parts is None:
        return stripped
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    try:
        spelled = urlsplit(
            canonicalize_url(urlunsplit((scheme, host, parts.path, parts.query, "")))
        )
    except (ValueError, UnicodeError):
        spelled = SplitResult(scheme, host, parts.path, parts.query, "")
    host = spelled.netloc.removeprefix("www.")
    port = _port(parts)
    netloc = host if port in (None, "80", "443") else f"{host}:{port}"
    path = spelled.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit((spelled.scheme, netloc, path, spelled.query, ""))


def _strip_tracking(url: str) -> str:
    url = url.strip().encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    parts = _split(url)
    if parts is None:
        return url.partition("#")[0]
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _port(parts: SplitResult) -> str | None:
    try:
        port = parts.port
    except ValueError:
        raw = parts.netloc.rpartition("@")[2]
        if raw.endswith("]"):
            return None
        return raw.rpartition(":")[2] or None
    return None if port is None else str(port)


# -- the canonical form before this revision, for the downgrade -------------------------------


def _canonical_before(url: str) -> str:
    parts = _split(url.strip())
    if parts is None:
        return url.strip()
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = _port(parts)
    netloc = host if port in (None, "80", "443") else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))
