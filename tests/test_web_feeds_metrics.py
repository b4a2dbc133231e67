"""Atom output parsed by feedparser, and /metrics parsed by prometheus_client's own parser."""

from __future__ import annotations

import io

import feedparser
from prometheus_client.parser import text_string_to_metric_families

from tests.web_support import Site, site_fixture  # noqa: F401  (the `site` fixture)


def parse(body: bytes) -> feedparser.FeedParserDict:
    return feedparser.parse(io.BytesIO(body))


def test_rule_feed_is_valid_atom_with_the_expected_entries(site: Site) -> None:
    c = site.client()
    r = c.get("/feeds/rule/karabakh-talks.atom")
    assert r.status == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = parse(r.body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    titles = {e.title for e in feed.entries}
    assert "Karabakh peace talks resume in Brussels" in titles
    assert "Qarabag: negotiators agree on a border commission" in titles
    assert all("Pashinyan" not in t for t in titles)
    talks = next(e for e in feed.entries if e.title.startswith("Karabakh peace talks"))
    assert talks.link == site.feeds.url("/a/talks.html")
    assert "Matched terms:" in talks.summary and "talks" in talks.summary.lower()
    assert {t.term for t in talks.tags} >= {"karabakh-talks"}
    assert talks.author == "wire-one"
    # ids are stable across fetches
    again = parse(c.get("/feeds/rule/karabakh-talks.atom").body)
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]
    assert len({e.id for e in feed.entries}) == len(feed.entries)


def test_hostile_entries_get_no_javascript_link(site: Site) -> None:
    feed = parse(site.client().get("/feeds/all.atom").body)
    assert not feed.bozo
    hostile = [e for e in feed.entries if "script story" in e.title]
    assert hostile and not hostile[0].get("links")  # javascript: is never a link
    assert all(
        not str(link.get("href", "")).lower().startswith("javascript")
        for e in feed.entries
        for link in e.get("links", [])
    )


def test_all_feed_names_every_rule_and_unknown_rule_is_404(site: Site) -> None:
    c = site.client()
    feed = parse(c.get("/feeds/all.atom").body)
    rules = {t.term for e in feed.entries for t in e.tags if t.get("scheme") is None}
    assert {"karabakh-talks", "leaders"} <= rules
    missing = c.get("/feeds/rule/nope.atom")
    assert missing.status == 404 and "karabakh-talks" in missing.json()["error"]


def test_the_other_sources_of_a_story_are_named(site: Site) -> None:
    """A second feed carrying the same wire story joins its cluster; the entry says so."""
    import asyncio

    from tests.test_run_e2e import ATOM
    from watcher.daemon.scheduler import run_once

    base = site.feeds.url("")
    copy = ATOM.format(base=base).replace("urn:wire2", "urn:wire3")
    site.feeds.add("/copy.xml", copy, "application/atom+xml")
    from watcher.config import FeedConfig

    config = site.config.model_copy(
        update={"feeds": (FeedConfig(name="wire-three", url=site.feeds.url("/copy.xml")),)}
    )
    asyncio.run(run_once(config, site.store))
    feed = parse(site.client().get("/feeds/rule/leaders.atom").body)
    meeting = next(e for e in feed.entries if e.title.startswith("Pashinyan and Aliyev"))
    assert "Also reported by: wire-three" in meeting.summary


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_metrics_parse_and_detection_latency_is_populated(site: Site) -> None:
    r = site.client().get("/metrics")
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
    m = samples(r.text)
    # the site's pipeline delivered alerts in this process: latency histograms have them
    seen = {
        tuple(sorted(lab.items())): v
        for lab, v in m["watcher_detection_latency_seen_seconds_count"]
    }
    assert seen[(("notifier", "hook"),)] >= 3
    published = dict(
        (lab["notifier"], v) for lab, v in m["watcher_detection_latency_published_seconds_count"]
    )
    assert published["hook"] >= 3
    buckets = [lab for lab, _ in m["watcher_detection_latency_seen_seconds_bucket"]]
    assert any(lab["le"] == "+Inf" for lab in buckets)
    sent = {(lab["notifier"], lab["outcome"]): v for lab, v in m["watcher_deliveries_total"]}
    assert sent[("hook", "sent")] >= 3
    matches = {lab["rule"]: v for lab, v in m["watcher_matches_total"]}
    assert matches["karabakh-talks"] >= 2 and matches["leaders"] >= 1
    assert "watcher_outbox_backlog" in m and "watcher_outbox_oldest_pending_seconds" in m
    # labels stay bounded: no URL, no story id anywhere
    for name, rows in m.items():
        for labels, _ in rows:
            assert set(labels) <= {"rule", "notifier", "outcome", "le"}, name
            assert not any("://" in v for v in labels.values()), name


def test_metrics_record_polls_reloads_and_worker_restarts() -> None:
    from watcher import metrics

    before = metrics.render().decode()
    metrics.record_poll("200", 3, 0.4)
    metrics.record_poll("304", 0, 0.1)
    metrics.record_poll("error", 0, 1.0)
    metrics.CONFIG_RELOADS.labels(outcome="refused").inc()
    after = samples(metrics.render().decode())
    polls = {lab["outcome"]: v for lab, v in after["watcher_polls_total"]}
    old = {lab["outcome"]: v for lab, v in samples(before).get("watcher_polls_total", [])}
    for outcome in ("ok", "unchanged", "error"):
        assert polls[outcome] == old.get(outcome, 0) + 1
    assert after["watcher_new_stories_total"][0][1] >= 3
    assert "watcher_worker_restarts_total" in after
    assert "watcher_poll_duration_seconds_bucket" in after
