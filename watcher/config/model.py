"""The typed, frozen shape of a loaded config: parsed once, then passed down to every stage."""

from __future__ import annotations

from dataclasses import dataclass, field

from watcher.config.http import HttpConfig
from watcher.rules import RuleSpec


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str
    interval: float | None = None  # seconds; None = polling.interval (adaptive later)
    tags: tuple[str, ...] = ()
    extract: bool = True  # fetch the article page; False = use the feed's own text
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PollingConfig:
    interval: float = 300.0
    min_interval: float = 60.0
    max_interval: float = 6 * 3600.0
    allow_private_addresses: bool = False
    timeout: float = 30.0  # total deadline per request, not per read
    max_bytes: int = 10 * 1024 * 1024  # decoded bytes per response
    concurrency: int = 20
    workers: int | None = None  # processes for parsing and matching; None = one per core, max 4
    per_host: int = 2
    user_agent: str = ""  # "" = watcher/<version> (+project URL)
    host_gap: float = 0.25  # seconds between the starts of two requests to one host
    health_notify: tuple[str, ...] = ()  # notifiers told when a feed fails, recovers, goes silent
    health_threshold: float = 6 * 3600.0  # a feed failing this long is reported
    lease: float = 300.0  # how long a process holds a claimed feed (several processes)


@dataclass(frozen=True)
class RetentionConfig:
    """How long stored rows are kept, in seconds; math.inf keeps them forever."""

    stories: float = 90 * 86400.0  # stories no rule matched
    matched_stories: float = 365 * 86400.0  # never less than `stories`
    deliveries: float = 30 * 86400.0  # sent or dead deliveries and health alerts


@dataclass(frozen=True)
class QuietHours:
    start: str  # "HH:MM", local to `timezone`
    end: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class Template:
    """Jinja2 source for an alert's title and body (rendered in a sandbox)."""

    title: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class NotifierConfig:
    name: str
    urls: tuple[str, ...]
    format: str = "auto"  # auto (by service) | text | html | markdown
    rate_limit: tuple[int, float] | None = None  # (messages, per seconds), per target URL
    quiet_hours: QuietHours | None = None
    digest: str | None = None  # a duration ("30m") or a 5-field cron expression
    template: Template | None = None
    max_attempts: int = 12


@dataclass(frozen=True)
class RuleConfig:
    spec: RuleSpec
    notify: tuple[str, ...] = ()
    template: Template | None = None
    escalate_at: int | None = None  # one follow-up alert when a story's cluster has N sources
    updates: bool = False  # alert again when a matched story's headline materially changes

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Config:
    path: str
    database: str = "sqlite:///data/watcher.db"
    auto_upgrade: bool | None = None  # None: yes for SQLite, no for PostgreSQL
    http: HttpConfig = field(default_factory=HttpConfig)
    polling: PollingConfig = field(default_factory=PollingConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    feeds: tuple[FeedConfig, ...] = ()
    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()
    rules: tuple[RuleConfig, ...] = ()
    secrets: frozenset[str] = (
        frozenset()
    )  # substituted ${VAR} values and URL credentials, for masking

    @property
    def term_lists(self) -> dict[str, tuple[str, ...]]:
        return dict(self.terms)

    def notifier(self, name: str) -> NotifierConfig | None:
        return next((n for n in self.notifiers if n.name == name), None)

    def feed(self, name: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.name == name), None)
