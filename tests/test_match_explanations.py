"""What a match says about itself: every distinct term that fired, the terms that satisfied
each AND first, so an alert's first few hits explain the match."""

from __future__ import annotations

from watcher.notify.templates import MAX_HITS, alert_context, render
from watcher.rules import Document, RuleSet, RuleSpec


def match(spec: RuleSpec, doc: Document):  # type: ignore[no-untyped-def]
    (m,) = RuleSet.compile([spec], {}).match(doc)
    return m


def test_the_term_that_satisfied_the_and_is_not_crowded_out() -> None:
    doc = Document(
        title="Karabakh: Karabakh road reopens",
        summary="Karabakh residents return. Karabakh schools reopen.",
        body="In Karabakh, officials said the talks would resume. " * 3,
    )
    m = match(RuleSpec("kb", query="Karabakh AND talks"), doc)
    assert [h.term for h in m.hits[:2]] == ["Karabakh", "talks"]
    assert sorted({h.field for h in m.hits if h.term == "Karabakh"}) == ["body", "summary", "title"]


def test_an_alert_names_every_distinct_term_within_its_hit_limit() -> None:
    words = ["Karabakh", "Lachin", "Shusha", "Khankendi", "Aghdam", "Fuzuli", "Kalbajar"]
    text = " ".join(words)
    doc = Document(title=text, summary=text, body=text)
    m = match(RuleSpec("places", any=tuple(words)), doc)
    context = alert_context(
        {
            "title": "t",
            "url": None,
            "feed": "f",
            "published_at": None,
            "language": "en",
            "summary": "",
        },
        [
            {
                "name": "places",
                "priority": "normal",
                "score": m.score,
                "terms": list(m.terms),
                "hits": [h.as_dict() for h in m.hits],
            }
        ],
    )
    _, body = render(context, "text")
    shown = [w for w in words if f"{w} (" in body]
    assert len(shown) == min(MAX_HITS, len(words))
    assert body.count("Karabakh (") == 1
