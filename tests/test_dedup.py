"""Story identity (watcher.ingest.dedup): guid, then canonical link, then content hash; and the
canonical link that makes one article one story however its link is spelled."""

from __future__ import annotations

import importlib.util
import random
from types import ModuleType
from urllib.parse import parse_qsl, urlencode, urlunsplit

import pytest

from tests.conftest import ROOT
from watcher.ingest import dedup
from watcher.ingest.dedup import (
    MAX_KEY,
    MAX_URL,
    Identity,
    canonical_url,
    content_hash,
    identity_key,
    strip_tracking,
)
from watcher.ingest.parse import Entry
from watcher.store.tables import StoryRow


def entry(
    guid: str | None = None, link: str | None = None, title: str = "T", summary: str = "S"
) -> Entry:
    return Entry(guid=guid, link=link, title=title, summary=summary, content="", published_at=None)


# -- identity order ----------------------------------------------------------------------------


def test_guid_comes_first() -> None:
    a = entry(guid="urn:1", link="https://example.org/a")
    b = entry(guid="urn:1", link="https://example.org/b", title="Other", summary="other")
    assert identity_key(a) == identity_key(b) == "guid:urn:1"


def test_link_comes_before_the_hash() -> None:
    a = entry(link="https://example.org/a?utm_source=rss", title="One", summary="one")
    b = entry(link="https://EXAMPLE.org/a#top", title="Two", summary="two")
    assert identity_key(a) == identity_key(b) == "link:https://example.org/a"


def test_without_guid_or_link_the_content_hash() -> None:
    a = entry(title="Peace  talks", summary="Delegations MET.")
    b = entry(title="peace talks", summary="delegations met.")
    assert (
        identity_key(a)
        == identity_key(b)
        == "hash:" + content_hash("Peace talks", "Delegations met.")
    )
    assert identity_key(entry(title="peace talks", summary="delegations left.")) != identity_key(a)


# -- what does not make a link new -------------------------------------------------------------

SAME = [
    # tracking parameters
    (
        "https://example.org/a?id=1&utm_source=rss&utm_medium=feed&fbclid=x",
        "https://example.org/a?id=1",
    ),
    ("https://example.org/a?gclid=1&ref_src=twsrc", "https://example.org/a"),
    # fragments
    ("https://example.org/a#comments", "https://example.org/a"),
    # default ports, and http or https
    ("http://example.org:80/a", "https://example.org/a"),
    ("https://example.org:443/a", "https://example.org/a"),
    # host case and www.
    ("https://WWW.Example.ORG/a", "https://example.org/a"),
    # a trailing slash
    ("https://example.org/a/", "https://example.org/a"),
    # the four spellings: non-ASCII path plain or percent-encoded
    (
        "https://example.org/новости/статья",
        "https://example.org/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F",
    ),
    # query parameters in another order
    ("https://example.org/a?section=world&id=7", "https://example.org/a?id=7&section=world"),
    # %7E or ~
    ("https://example.org/%7Eeditor/a", "https://example.org/~editor/a"),
    # an IDN host or its punycode
    ("https://пример.рф/a", "https://xn--e1afmkfd.xn--p1ai/a"),
    ("https://Пример.РФ/a", "https://xn--e1afmkfd.xn--p1ai/a"),
    # percent-encoding case, and a space
    ("https://example.org/a%2fb", "https://example.org/a%2Fb"),
    ("https://example.org/a?q=a%20b", "https://example.org/a?q=a+b"),
]


@pytest.mark.parametrize(("one", "other"), SAME)
def test_one_article_one_canonical_link(one: str, other: str) -> None:
    assert canonical_url(one) == canonical_url(other)
    assert identity_key(entry(link=one)) == identity_key(entry(link=other))


# Pinned forms: the canonical link is stored identity, so a change here (w3lib's or ours)
# needs a migration that rewrites stored links, as 0004 did.
GOLDEN = {
    "http://www.Example.org:80/новости/?b=2&a=1&utm_source=x#top": "https://example.org/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8?a=1&b=2",
    "https://пример.рф/%7Eed/a?x": "https://xn--e1afmkfd.xn--p1ai/~ed/a?x=",
    "https://example.org:8080/a": "https://example.org:8080/a",
    "ftp://example.org/a": "ftp://example.org/a",
    "https://example.org": "https://example.org/",
    "https://user:secret@example.org/a": "https://example.org/a",
    "http://[2001:DB8::1]:8080/a": "https://[2001:db8::1]:8080/a",
}


@pytest.mark.parametrize(("url", "expected"), GOLDEN.items())
def test_canonical_forms_are_pinned(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


DIFFERENT = [
    ("https://example.org/a", "https://example.org/b"),
    ("https://example.org/a?id=1", "https://example.org/a?id=2"),
    ("https://example.org/a", "https://example.org:8080/a"),
    ("https://example.org/A", "https://example.org/a"),  # paths are case-sensitive
    ("https://example.org/a?id=1", "https://example.org/a"),
    ("https://news.example.org/a", "https://example.org/a"),
]


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_different_articles_stay_different(one: str, other: str) -> None:
    assert canonical_url(one) != canonical_url(other)


def test_strip_tracking_keeps_the_link_to_fetch() -> None:
    assert strip_tracking("https://Example.org/a?id=1&utm_source=rss#x") == (
        "https://Example.org/a?id=1"
    )
    assert strip_tracking("  https://example.org/новости?b=2&a=1  ") == (
        "https://example.org/новости?b=2&a=1"
    )


def test_canonical_of_the_stored_link_is_the_canonical_of_the_feed_link() -> None:
    """Migration 0004 recomputes identities from the stored link (strip_tracking's output)."""
    for url, _ in [*SAME, *DIFFERENT]:
        assert canonical_url(strip_tracking(url)) == canonical_url(url)


# -- hostile links -------------------------------------------------------------------------------

HOSTILE = [
    "http://example.com:99999/a",  # port out of range: parts.port raised and aborted the run
    "http://example.com:-1/a",
    "http://example.com:abc/a",
    "http://user@example.com:99999/a",
    "http://[::1/a",  # urlsplit refuses an unclosed IPv6 bracket
    "http://[::1]:99999/a",
    "http://" + "a" * 70 + ".example/a",  # a label too long for IDNA
    "http://.example.com/a",
    "http://exa\ud800mple.com/a",  # a lone surrogate
    "http://example.com/\x00/a",
    "",
    "   ",
    "javascript:alert(1)",
    "//example.com/a",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_no_link_makes_identity_raise(url: str) -> None:
    canon = canonical_url(url)
    assert canonical_url(url) == canon  # stable
    strip_tracking(url)
    identity_key(entry(link=url))


def test_an_entry_carries_what_the_functions_give_one_by_one() -> None:
    """The identity computed once with the entry (and read by the "seen before?" ask and by the
    stored story) is field by field what the separate functions give, for every link here, long
    or hostile, with and without a guid, and with no link."""
    long_links = ["https://example.org/" + "статья-" * 25, "https://example.org/" + "ы" * 400]
    links = [u for pair in [*SAME, *DIFFERENT] for u in pair] + HOSTILE + long_links + [None]
    for link in links:
        for guid in (None, "", "g-1"):
            e = Entry(guid=guid, link=link, title="T", summary="", content="C", published_at=None)
            assert e.identity == Identity(
                key=identity_key(e),
                url=strip_tracking(link) if link else None,
                canonical_url=canonical_url(link) if link else None,
                content_hash=content_hash(e.title, e.content),
            ), (guid, link)


def test_an_out_of_range_port_is_kept_as_part_of_the_identity() -> None:
    assert canonical_url("http://example.com:99999/a") == "https://example.com:99999/a"
    assert canonical_url("http://example.com:99999/a") != canonical_url("http://example.com/a")


def test_overlong_links_are_stored_as_digests_that_fit_their_columns() -> None:
    """Percent-encoding makes a Cyrillic slug six times longer; PostgreSQL refuses a value wider
    than its column, and one such story would fail its whole poll."""
    long_path = "https://example.org/" + "статья-" * 25  # 195 characters, 1,020 encoded
    key = identity_key(entry(link=long_path))
    assert len(key) <= MAX_KEY and key.startswith("link-sha256:")
    assert identity_key(entry(link=long_path.replace("https", "http"))) == key
    huge = "https://example.org/" + "ы" * 400
    assert len(canonical_url(huge)) <= MAX_URL and canonical_url(huge).startswith("sha256:")
    assert canonical_url(huge + "#x") == canonical_url(huge)


def test_the_widths_agree_with_the_table() -> None:
    columns = StoryRow.__table__.c  # type: ignore[attr-defined]
    assert columns.key.type.length == MAX_KEY
    assert columns.canonical_url.type.length == MAX_URL


# -- migration 0004's frozen copy ------------------------------------------------------------------


def _migration() -> ModuleType:
    path = ROOT / "watcher" / "migrations" / "versions" / "0004_url_identity.py"
    spec = importlib.util.spec_from_file_location("migration_0004", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_computes_what_the_pipeline_does_today() -> None:
    """The frozen copy in migration 0004 agrees with the live code as of that revision (when the
    live code moves on, this test moves to a newer migration's copy)."""
    m = _migration()
    urls = [u for pair in [*SAME, *DIFFERENT] for u in pair] + list(GOLDEN) + HOSTILE
    urls += ["https://example.org/" + "статья-" * n for n in (25, 60)]
    for url in filter(str.strip, urls):  # a story without a link has no url to recompute
        assert m._canonical(strip_tracking(url)) == canonical_url(url), url
        link = canonical_url(url)
        assert m._link_key(link) == identity_key(entry(link=url)), url


def test_the_migration_downgrade_computes_the_old_form() -> None:
    m = _migration()
    assert m._canonical_before("http://www.Example.org:80/новости/?b=2&a=1") == (
        "https://example.org/новости?b=2&a=1"
    )
    assert m._canonical_before("https://example.org/%7Eed") == "https://example.org/%7Eed"


# -- the shortcut for links already spelled plainly ----------------------------------------------


def _general_strip(url: str) -> str:
    """strip_tracking's general path, which the shortcut for plain links skips."""
    url = dedup._whole(url.strip())
    parts = dedup._split(url)
    if parts is None:
        return url.partition("#")[0]
    query = [(k, v) for k, v in parse_qsl(parts.query, True) if not dedup._TRACKING.match(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _links(count: int) -> list[str]:
    """Links near the shortcut's edges: host case, www., punycode, hyphens and empty or overlong
    labels, dot segments, empty segments, reserved and non-ASCII characters, other schemes."""
    rng = random.Random(18)
    hosts = ["example.org", "www.Example.ORG", "WWW.x-y.com", "a.b.c", "xn--bcher-kva.de"]
    hosts += ["-a.com", "a-.com", "a..b", "x" * 70 + ".com", "1.2.3.4", "www.www.ex.com", ""]
    chars = "abcXYZ019-._~/%?#:@!$&'()*+,;=[] é"
    segments = ["a", ".", "..", "", "~x", "a.b", "_", "-", "A~", ".well-known", "x%41"]
    out = []
    for _ in range(count):
        scheme = rng.choice(["http", "https", "HTTP", "ftp"])
        tail = "".join(rng.choice(chars) for _ in range(rng.randint(0, 14)))
        out.append(f"{scheme}://{rng.choice(hosts)}/{tail}")
        path = "/".join(rng.choice(segments) for _ in range(rng.randint(0, 4)))
        out.append(f"https://{rng.choice(hosts)}/{path}" + rng.choice(["", "/", "//"]))
    return out


def test_the_plain_link_shortcut_gives_what_the_general_rules_give() -> None:
    links = [u for pair in [*SAME, *DIFFERENT] for u in pair] + HOSTILE + _links(10_000)
    plain = 0
    for url in links:
        stripped = strip_tracking(url)
        assert stripped == _general_strip(url), url
        if dedup._PLAIN.fullmatch(stripped):
            plain += 1
            assert dedup._canonical_stripped(stripped) == dedup._canonical_general(stripped), url
    assert plain > 2_000  # the shortcut was taken, on many shapes
