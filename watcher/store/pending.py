"""Stories stored before their article page was read, and the page's text written into them.

Why store first: extraction costs 17-35 ms of CPU a page, so in a burst of 2,000 new stories a
story that waited for its page before being matched would wait for every page ahead of it
(20 s and more on two cores). A story whose feed extracts pages is stored, matched and
alerted on the feed's own text at once, with `body_source` = "pending"; the page completes it
later (watcher.pipeline.pages). The mark is on the story row, so what a stopped or killed
process left is found and resumed by the next start, and no schema change is needed.

Completing rewrites the body, language, folded search text (the search index follows by its
trigger or generated column) and fingerprint, and decides the story's alerts again on the
full text, as a story whose page came first would have them:
- its alerts no delivery of which has been tried or claimed yet (the usual case in `run
  --once`, which delivers after every page is read, and for a story whose alert still waits
  in a busy outbox) are taken back and made again from the full text's matches: one alert
  per notifier naming every rule, none for a rule the full text no longer matches;
- an alert already on its way stands; its rules are not alerted again, and a rule the page
  adds reaches that notifier as an alert of kind `body` (an (alert, story, notifier, kind) is
  unique);
- as for a new story, a rule another story of the cluster matched does not alert again;
- clustering: the story was clustered on the feed's text (link, headline, fingerprint of the
  title and summary). Its band keys are replaced by the page's, and a story still alone in
  its cluster joins another its page matches (a cluster others already joined keeps its
  members). A copy recognised only by its article so gives no second alert if its own had
  not gone out yet; if it had, that copy was alerted twice, the price of not making every
  alert wait for its page. Joining can make the cluster reach a rule's `escalate_at`, which
  sends the escalation as for a new story.
It is conditional on the mark, so two processes that both picked up a story complete it once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from watcher.neardup import Fingerprint, pack
from watcher.rules import RuleMatch
from watcher.store.clusters import ClusterInfo, cluster_state, find_cluster, index_stories
from watcher.store.db import Store
from watcher.store.outbox import OutboxAlert, add_alert
from watcher.store.stories import insert_matches
from watcher.store.tables import AlertRow, DeliveryRow, MatchRow, StoryBand, StoryRow

log = logging.getLogger("watcher.store")

PENDING = "pending"  # body_source of a story whose page is still to be read


@dataclass(frozen=True)
class PendingStory:
    """What reading and matching a pending story's page needs."""

    id: int
    feed: str
    url: str | None
    title: str
    summary: str
    body: str  # the feed's text, kept when the page gives nothing better
    published_at: datetime | None


# Given the story's cluster and the (notifier, kind) alerts the story already has.
BodyAlerts = Callable[[ClusterInfo, frozenset[tuple[str, str]]], tuple[OutboxAlert, ...]]


@dataclass(frozen=True)
class BodyToSave:
    story_id: int
    body: str
    body_source: str  # "page", or "feed" when the page could not be read
    language: str | None
    search_text: str
    matches: tuple[RuleMatch, ...]  # on the full text, those of the feed's text included
    fingerprint: Fingerprint | None
    alerts: BodyAlerts
    now: datetime


@dataclass(frozen=True)
class BodySaved:
    new_rules: tuple[str, ...]  # matched on the full text only
    first_match: bool  # the story matched nothing before
    alerts: int


def pending_ids(store: Store, feed: str, keys: Sequence[str]) -> list[tuple[int, str]]:
    """(id, feed) of the pending stories of `feed` among those with identity `keys`."""
    if not keys:
        return []
    with store.read() as s:
        rows = s.exec(
            select(StoryRow.id).where(
                StoryRow.feed == feed,
                col(StoryRow.key).in_(list(keys)),
                StoryRow.body_source == PENDING,
            )
        ).all()
        return [(sid, feed) for sid in rows if sid is not None]


def all_pending(store: Store) -> list[tuple[int, str]]:
    """(id, feed) of every pending story: what a stopped process left, read once at start-up
    (a scan of the stories table: retention keeps it bounded, and no index is worth its
    upkeep on every insert for one read per start)."""
    with store.read() as s:
        rows = s.exec(
            select(StoryRow.id, StoryRow.feed).where(StoryRow.body_source == PENDING)
        ).all()
        return [(sid, feed) for sid, feed in rows if sid is not None]


def pending_stories(store: Store, ids: Sequence[int]) -> list[PendingStory | None]:
    """Each of `ids` still pending, else None (completed by another process, or pruned)."""
    with store.read() as s:
        rows = s.exec(
            select(StoryRow).where(col(StoryRow.id).in_(list(ids)), StoryRow.body_source == PENDING)
        ).all()
        found = {
            r.id: PendingStory(
                id=r.id or 0,
                feed=r.feed,
                url=r.url,
                title=r.title,
                summary=r.summary,
                body=r.body,
                published_at=r.published_at,
            )
            for r in rows
        }
    return [found.get(sid) for sid in ids]


def save_bodies(store: Store, items: Sequence[BodyToSave]) -> list[BodySaved | None]:
    """Complete several stories in one transaction, each in a savepoint of its own; None for
    one no longer pending. One that cannot be completed (a bug met on hostile text) keeps the
    feed's text and loses its mark, so it is not retried on every start."""
    out: list[BodySaved | None] = []
    with store.write() as s:
        # cluster decisions read other processes' stories: take turns with save_polls
        store.serialize(s, "stories")
        for item in items:
            try:
                with s.begin_nested():
                    out.append(_save_body(s, item))
            except Exception:
                log.exception("story %d: its page's text could not be stored", item.story_id)
                with s.begin_nested():
                    _unmark(s, item.story_id)
                out.append(None)
    return out


def give_up(store: Store, story_id: int) -> None:
    """The story keeps the feed's text for good (its page could not be matched)."""
    with store.write() as s:
        _unmark(s, story_id)


def _unmark(s: Session, story_id: int) -> None:
    s.execute(
        update(StoryRow)
        .where(col(StoryRow.id) == story_id, col(StoryRow.body_source) == PENDING)
        .values(body_source="feed")
    )


def _save_body(s: Session, item: BodyToSave) -> BodySaved | None:
    story = s.get(StoryRow, item.story_id)
    if story is None or story.body_source != PENDING or story.id is None:
        return None
    sid = story.id
    conn = s.connection()
    bands = StoryBand.__table__  # type: ignore[attr-defined]
    conn.execute(delete(bands).where(bands.c.story_id == sid))
    fp = item.fingerprint
    cluster = story.cluster_id or sid
    if cluster == sid and fp is not None and fp.bands and _alone(s, sid):
        joined = find_cluster(s, story.feed, None, "", fp, story.first_seen_at)
        if joined.cluster_id is not None and joined.cluster_id != sid:
            cluster = joined.cluster_id
    index_stories(conn, [(sid, fp)], story.first_seen_at)
    story.cluster_id = cluster
    story.body = item.body
    story.body_source = item.body_source
    story.language = item.language
    story.search_text = item.search_text
    story.signature = pack(fp.signature) if fp is not None else None
    s.add(story)
    s.flush()
    # The story's alerts not yet on their way are taken back and decided again on the full
    # text, as if the page had come first; those on their way (or sent) stand, and their rules
    # count as alerted.
    sent_rules = _retract_unsent(s, sid)
    info = cluster_state(s, cluster, story.feed)
    others = _rules_of_others(s, cluster, sid)
    had = set(s.exec(select(MatchRow.rule).where(MatchRow.story_id == sid)).all())
    new = [m for m in item.matches if m.rule not in had]
    insert_matches(conn, [(sid, m) for m in new], item.now)
    taken = frozenset(
        (n, k)
        for n, k in s.exec(
            select(AlertRow.notifier, AlertRow.kind).where(AlertRow.story_id == sid)
        ).all()
    )
    info = replace(info, alerted_rules=frozenset(others | sent_rules))
    alerts = [a for a in item.alerts(info, taken) if (a.notifier, a.kind) not in taken]
    for a in alerts:
        add_alert(s, sid, a, item.now)
    return BodySaved(
        new_rules=tuple(m.rule for m in new),
        first_match=not had and bool(new),
        alerts=len(alerts),
    )


def _retract_unsent(s: Session, sid: int) -> set[str]:
    """Delete the story's alerts (kind `alert`) no delivery of which has been tried or
    claimed; returns the rules named by those that stay. Their
    delivery rows are locked first, so no sender claims one meanwhile (PostgreSQL; SQLite's
    write transaction excludes senders anyway)."""
    rows = s.exec(select(AlertRow).where(AlertRow.story_id == sid, AlertRow.kind == "alert")).all()
    stay: set[str] = set()
    for alert in rows:
        deliveries = s.exec(
            select(DeliveryRow).where(DeliveryRow.alert_id == alert.id).with_for_update()
        ).all()
        if any(
            d.status not in ("pending", "held") or d.attempts or d.lease_owner is not None
            for d in deliveries
        ):
            stay |= {r["name"] for r in json.loads(alert.context).get("rules", [])}
            continue
        for d in deliveries:
            s.delete(d)
        s.flush()
        s.delete(alert)
    s.flush()
    return stay


def _rules_of_others(s: Session, cluster: int, sid: int) -> set[str]:
    """Rules matched by the cluster's other stories: those alert once per cluster."""
    return set(
        s.exec(
            select(MatchRow.rule)
            .join(StoryRow, col(StoryRow.id) == col(MatchRow.story_id))
            .where(StoryRow.cluster_id == cluster, col(StoryRow.id) != sid)
            .distinct()
        ).all()
    )


def _alone(s: Session, sid: int) -> bool:
    other = s.exec(
        select(StoryRow.id).where(StoryRow.cluster_id == sid, col(StoryRow.id) != sid).limit(1)
    ).first()
    return other is None
