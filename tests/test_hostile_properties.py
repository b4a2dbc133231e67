"""Property-based: whatever a user writes as a rule and whatever a feed sends, only watcher's own
errors escape the rule compiler, the matcher and the feed-to-story stage, and the same input
gives the same result every time."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher.errors import WatcherError
from watcher.ingest.parse import parse_feed
from watcher.ingest.prepare import FeedRef, Prepared, Skipped, prepare_stories
from watcher.rules import Document, RuleSet, RuleSpec

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
BOUNDED = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

WORDS = st.sampled_from(
    ["Karabakh", "Qarabağ", "Карабах", "Ղարաբաղ", "talks", "negotiat*", "peace", "a", "Ж", "中文"]
)
TOKENS = st.one_of(
    WORDS,
    st.sampled_from(["AND", "OR", "NOT", "(", ")", '"', "*", "NEAR/3", "title:", "@karabakh", "-"]),
    st.text(max_size=6),
)
QUERIES = st.lists(TOKENS, max_size=25).map(" ".join)
TEXT = st.one_of(
    st.lists(WORDS, max_size=30).map(" ".join),
    st.text(max_size=200),
)


@BOUNDED
@given(query=QUERIES, title=TEXT, body=TEXT)
def test_rules_compile_or_raise_ours_and_match_deterministically(
    query: str, title: str, body: str
) -> None:
    spec = RuleSpec(name="r", query=query)
    terms = {"karabakh": ("Karabakh", "Qarabağ", "Карабах")}
    try:
        rules = RuleSet.compile([spec], terms)
    except WatcherError:
        return
    doc = Document(title=title, body=body)
    first = rules.match(doc)
    assert first == rules.match(doc)
    assert first == RuleSet.compile([spec], terms).match(doc)


FRAGMENTS = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "&amp;",
            "&lt;b&gt;",
            "&nbsp;",
            "&#0;",
            "&#xD800;",
            "&undefined;",
            "<![CDATA[x]]>",
            "<b>",
            "</b>",
            "<br>",
            "<!--",
            "-->",
            "<script>alert(1)</script>",
            "\x00",
            "\r\n",
            "http://example.com:99999/a",
            "javascript:alert(1)",
            "<!DOCTYPE x [<!ENTITY e 'y'>]>",
        ]
    ),
)
FIELD = st.lists(FRAGMENTS, max_size=8).map("".join)


@st.composite
def feeds(draw: st.DrawFn) -> bytes:
    items = []
    for _ in range(draw(st.integers(0, 5))):
        items.append(
            f"<item><title>{draw(FIELD)}</title><link>{draw(FIELD)}</link>"
            f"<guid>{draw(FIELD)}</guid><pubDate>{draw(FIELD)}</pubDate>"
            f"<description>{draw(FIELD)}</description></item>"
        )
    doc = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{draw(FIELD)}</title>{"".join(items)}</channel></rss>'
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1251"]))
    return doc.encode(encoding, "replace" if encoding != "utf-8" else "surrogatepass")


RULES = RuleSet.compile([RuleSpec(name="k", any=("Karabakh", "talks"))], {})


@BOUNDED
@given(body=feeds())
def test_feed_to_story_raises_only_ours_and_is_deterministic(body: bytes) -> None:
    try:
        parsed = parse_feed(body, "https://example.org/feed", NOW, {})
    except WatcherError:
        return
    assert parsed == parse_feed(body, "https://example.org/feed", NOW, {})
    items = [(e, e.content or e.summary, "feed") for e in parsed.entries]
    prepared = prepare_stories(RULES, FeedRef("wire"), items, NOW)
    assert len(prepared) == len(items)
    assert all(isinstance(p, Prepared | Skipped) for p in prepared)
    again = prepare_stories(RULES, FeedRef("wire"), items, NOW)
    assert [getattr(p, "matches", None) for p in prepared] == [
        getattr(p, "matches", None) for p in again
    ]
    for p in prepared:
        if isinstance(p, Prepared):
            assert "\x00" not in p.story.title
            assert p.story.url is None or p.story.url.startswith(("http://", "https://"))


KEYS = st.sampled_from(
    ["database", "polling", "feeds", "rules", "notifiers", "term_lists", "retention", "http",
     "name", "url", "interval", "query", "any", "notify", "timeout", "max_bytes", "workers",
     "headers", "template", "title", "extract", "tags", "opml", "digest", "quiet_hours", "x"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.sampled_from(["5m", "0s", "-1h", "10MB", "http://127.0.0.1/", "${VAR}", "{{ x }}", "*"]),
    st.text(max_size=20),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=25,
)


@BOUNDED
@given(data=st.dictionaries(KEYS, VALUES, max_size=8), tail=st.text(max_size=40))
def test_config_loader_raises_only_ours_and_is_deterministic(
    data: dict[str, object], tail: str
) -> None:
    import yaml

    from watcher.config import parse_config

    text = yaml.safe_dump(data, allow_unicode=True) + tail
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(repr(parse_config("w.yaml", text, {"VAR": "v"})))
        except WatcherError as exc:
            outcomes.append(f"error: {exc}")
    assert outcomes[0] == outcomes[1]
