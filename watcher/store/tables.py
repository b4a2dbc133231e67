"""SQLModel tables. Times are timezone-aware UTC (SQLModel stores UTC and returns it aware).

Unique constraints carry the invariants, so duplicates are impossible whatever the timing:
one story per (feed, identity key), one match per (story, rule), one alert per (story, notifier),
one delivery per (alert, target).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class FeedState(SQLModel, table=True):
    """A feed's polling state and health; survives restarts so polling resumes where it stopped."""

    __tablename__ = "feeds"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    url: str = Field(sa_column=Column(Text, nullable=False))
    next_poll_at: datetime = Field(index=True)
    interval: float = 300.0
    etag: str | None = Field(default=None, sa_column=Column(Text))
    last_modified: str | None = Field(default=None, sa_column=Column(Text))
    body_hash: str | None = None
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    consecutive_errors: int = 0
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    stories_seen: int = 0
    # The URL the config gave; `url` may differ after a confirmed permanent redirect, and only a
    # change of this one (an edit by the user) resets the feed's state.
    config_url: str | None = Field(default=None, sa_column=Column(Text))
    moved_to: str | None = Field(default=None, sa_column=Column(Text))  # 301/308 target, pending
    moved_seen: int = 0
    disabled_at: datetime | None = None  # set by 410; not polled until the config URL changes
    disabled_reason: str | None = Field(default=None, sa_column=Column(Text))
    first_error_at: datetime | None = None  # start of the current run of failures
    item_rate: float | None = None  # new stories per second, time-weighted average
    usual_gap: float | None = None  # seconds between stories when stories last came
    publisher_interval: float | None = None  # ttl / sy:updatePeriod the feed itself declares
    last_new_at: datetime | None = None
    possible_gaps: int = 0
    last_gap_at: datetime | None = None
    health_alerted: str | None = Field(default=None, max_length=16)  # failing | silent | None
    # Several processes on one PostgreSQL: the process polling this feed, until when.
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = None


class StoryRow(SQLModel, table=True):
    __tablename__ = "stories"
    __table_args__ = (
        UniqueConstraint("feed", "key", name="uq_story_feed_key"),
        Index("ix_story_canonical_url", "canonical_url"),
        Index("ix_story_content_hash", "content_hash"),
    )
    id: int | None = Field(default=None, primary_key=True)
    feed: str = Field(max_length=200)
    key: str = Field(max_length=600)  # identity: guid:..., link:... or hash:...
    guid: str | None = Field(default=None, sa_column=Column(Text))
    url: str | None = Field(default=None, sa_column=Column(Text))
    canonical_url: str | None = Field(default=None, max_length=2000)
    title: str = Field(sa_column=Column(Text, nullable=False))
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    # "page" when extracted from the article, "pending" while the page is still to be read
    # (watcher.store.pending), else "feed"
    body_source: str = "feed"
    language: str | None = Field(default=None, max_length=8)  # detected, ISO 639-1
    # title, summary and body folded as the rule matcher folds them (case, accents, script), so
    # full-text search finds Карабах with "karabakh" exactly as a rule would
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # Story clustering (watcher.neardup): the first story of a cluster is its id.
    cluster_id: int | None = Field(default=None, index=True)
    title_key: str = Field(default="", max_length=300, index=True)
    signature: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    content_hash: str = Field(max_length=64)
    published_at: datetime | None = None
    first_seen_at: datetime = Field(index=True)


class StoryBand(SQLModel, table=True):
    """The LSH index of story signatures, in the database so that clustering survives restarts
    and works across processes: stories sharing a band key are candidates for the same story."""

    __tablename__ = "story_bands"
    __table_args__ = (Index("ix_story_band_key_seen", "band_key", "seen_at"),)
    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(foreign_key="stories.id", index=True)
    band_key: int = Field(sa_column=Column(BigInteger, nullable=False))
    seen_at: datetime


class StoryUpdate(SQLModel, table=True):
    """A story seen again under the same identity with a materially different headline."""

    __tablename__ = "story_updates"
    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(foreign_key="stories.id", index=True)
    old_title: str = Field(sa_column=Column(Text, nullable=False))
    new_title: str = Field(sa_column=Column(Text, nullable=False))
    seen_at: datetime


class MatchRow(SQLModel, table=True):
    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("story_id", "rule", name="uq_match_story_rule"),)
    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(foreign_key="stories.id", index=True)
    rule: str = Field(max_length=200, index=True)
    terms: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    hits: str = Field(
        sa_column=Column(Text, nullable=False)
    )  # JSON list of {term, field, text, snippet}
    snippet: str = Field(default="", sa_column=Column(Text, nullable=False))
    score: float = 0.0
    matched_at: datetime = Field(index=True)


class AlertRow(SQLModel, table=True):
    """One alert per story, notifier and kind, written with the match (the outbox). It keeps
    the template variables, not a rendered message, so each target gets its own format and a
    digest can gather several alerts. A `health` alert is about a feed, not a story: no
    story, and its context holds the finished title and body (watcher.daemon.health)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("story_id", "notifier", "kind", name="uq_alert_story_notifier_kind"),
    )
    id: int | None = Field(default=None, primary_key=True)
    # Nullable for health alerts only; a story's alerts still go with it when it is pruned.
    story_id: int | None = Field(
        default=None,
        foreign_key="stories.id",
        index=True,
        sa_column_kwargs={"info": {"delete_with_target": True}},
    )
    notifier: str = Field(max_length=200)
    kind: str = Field(default="alert", max_length=16)  # alert|update|escalation|body|health
    priority: str = Field(default="normal", max_length=8)
    title: str = Field(sa_column=Column(Text, nullable=False))  # for listings
    context: str = Field(sa_column=Column(Text, nullable=False))  # JSON template variables
    rule_template: str | None = Field(default=None, sa_column=Column(Text))  # JSON {title, body}
    created_at: datetime


class DeliveryRow(SQLModel, table=True):
    """One row per (alert, target URL): apprise reports partial success over several targets
    as failure, so each target is sent and marked on its own and never re-sent once it succeeded.
    The target is stored as its index in the notifier's URL list, never the URL (it holds secrets).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "target", name="uq_delivery_alert_target"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id", index=True)
    notifier: str = Field(max_length=200)
    target: int = 0
    status: str = Field(default="pending", max_length=16)  # pending | held | sent | dead
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = None
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = None


class DigestState(SQLModel, table=True):
    """When each digest notifier last sent, so the schedule survives restarts."""

    __tablename__ = "digests"
    notifier: str = Field(primary_key=True, max_length=200)
    last_sent_at: datetime
