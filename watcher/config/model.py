"""The typed, frozen shape of the config: parsed once, then passed down to every stage.

One set of pydantic models states every key, its type, its default and (in the docstring under
it) its meaning. `ConfigFile` is the YAML file as written, and its JSON Schema is what
`watcher config schema` prints; the sections (polling, retention, feeds, ...) are used as they
are at run time. `Config` is the run-time whole: notifiers and term lists keyed by name, rules
compiled into `RuleSpec`s, secrets collected for masking. Unknown keys are errors
(`extra="forbid"`), so a typo never passes silently.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag
from pydantic import model_validator as _model_validator
from pydantic_core import PydanticCustomError

from watcher.config.http import Listen, is_loopback, parse_listen, token_problem
from watcher.config.types import (
    AppriseUrls,
    Bool,
    ClockTime,
    Digest,
    Duration,
    Format,
    Headers,
    HttpUrl,
    Jinja,
    KeepFor,
    Name,
    NameList,
    Number,
    PositiveInt,
    Priority,
    Rate,
    Size,
    TermList,
    Text,
    TextList,
    TimeZone,
    Workers,
)
from watcher.rules import RuleSpec
from watcher.rules.model import FIELDS

DEFAULT_DATABASE = "sqlite:///data/watcher.db"


def key_error(key: str, message: str) -> PydanticCustomError:
    """A model-level check that names the key at fault (the loader appends it to the path)."""
    return PydanticCustomError("config_key", "{message}", {"key": key, "message": message})


class Frozen(BaseModel):
    """Immutable; assignment raises AttributeError as a frozen dataclass does."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise dataclasses.FrozenInstanceError(f"cannot assign to {name!r}: config is frozen")

    def __delattr__(self, name: str) -> NoReturn:
        raise dataclasses.FrozenInstanceError(f"cannot delete {name!r}: config is frozen")


class Section(Frozen):
    """A mapping in the YAML file. `key:` with no value means the default, as YAML readers
    expect, rather than an error."""

    @_model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class DatabaseConfig(Section):
    url: Text = DEFAULT_DATABASE
    """SQLAlchemy URL; `postgresql+psycopg://user@host/db` for PostgreSQL."""
    auto_upgrade: Bool | None = None
    """Apply schema migrations at start; default true for SQLite, false for PostgreSQL."""


MIN_LEASE = 2.0


class PollingConfig(Section):
    interval: Duration = 300.0
    """A feed's first interval, until its own rhythm is known."""
    min_interval: Duration = 60.0
    """Lower bound for adaptive intervals."""
    max_interval: Duration = 6 * 3600.0
    """Upper bound; also the cap of the backoff after errors."""
    allow_private_addresses: Bool = False
    """Allow feeds and pages on loopback, private and link-local addresses."""
    timeout: Duration = 30.0
    """Total deadline per request: connect, redirects and body together (not per read)."""
    max_bytes: Size = 10 * 1024 * 1024
    """Largest body accepted, counted after decompression: 10MB, 512KB or bytes."""
    concurrency: PositiveInt = 20
    """Requests in flight at once."""
    workers: Workers = None
    """Worker processes for parsing and matching: auto (one per core, at most 4), 0 = threads."""
    per_host: PositiveInt = 2
    """Requests in flight at once to one host."""
    user_agent: Text = ""
    """The User-Agent header; empty = watcher/VERSION (+project URL)."""
    host_gap: Duration = 0.25
    """Minimum time between the starts of two requests to one host."""
    health_notify: NameList = ()
    """Notifiers told when a feed fails, recovers, goes silent or is disabled."""
    health_threshold: Duration = 6 * 3600.0
    """How long a feed must fail before health_notify is told."""
    lease: Duration = 20.0
    """A claim on a feed or delivery lasts this long unless renewed; a dead process's pass on."""
    shutdown_grace: Duration = 8.0
    """On SIGTERM/SIGINT: how long in-flight polls and sends may take before they are abandoned."""

    @_model_validator(mode="after")
    def _bounds(self) -> PollingConfig:
        if self.min_interval > self.max_interval:
            raise key_error("min_interval", "min_interval must not exceed max_interval")
        if self.timeout <= 0:
            raise key_error("timeout", "timeout must be greater than zero")
        if self.lease < MIN_LEASE:
            raise key_error(
                "lease",
                f"lease must be at least {MIN_LEASE:g}s: it is renewed every quarter of it, "
                "and a shorter one would pass a busy process's work to another",
            )
        return self


class HttpConfig(Section):
    """The web UI, JSON API, Atom feeds and /metrics served by `watcher run`."""

    enabled: Bool = True
    """Run the HTTP server."""
    listen: Listen = "127.0.0.1:8080"
    """host:port; port 0 picks a free one. Beyond loopback a token is required."""
    token: Text = ""
    """Access token (16+ characters), e.g. "${WATCHER_TOKEN}": Bearer header or login form."""

    @_model_validator(mode="after")
    def _token_rule(self) -> HttpConfig:
        if (problem := token_problem(self.enabled, self.listen, self.token)) is not None:
            raise key_error(*problem)
        return self

    @property
    def host(self) -> str:
        return parse_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return parse_listen(self.listen)[1]

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


class RetentionConfig(Section):
    """How long stored rows are kept, in seconds; math.inf (`forever`) keeps them."""

    stories: KeepFor = 90 * 86400.0
    """Stories no rule matched, after they were first seen; at least 1d, or forever."""
    matched_stories: KeepFor = 365 * 86400.0
    """Matched stories with their matches and alerts; at least as long as stories."""
    deliveries: KeepFor = 30 * 86400.0
    """Sent or dead deliveries and health alerts; pending and held ones always stay."""

    @_model_validator(mode="after")
    def _order(self) -> RetentionConfig:
        if self.matched_stories < self.stories:
            raise key_error(
                "matched_stories",
                "matched_stories must be at least as long as stories (matched stories outlive "
                "unmatched ones)",
            )
        return self


class FeedOptions(Section):
    """What a feed entry and an OPML entry share."""

    interval: Duration | None = None
    """Pins this feed's polling interval (no adaptation); default: adaptive."""
    tags: TextList = ()
    """Labels; rules select feeds by `tag:x`."""
    extract: Bool = True
    """Fetch the article page and extract its text; false uses the feed's own text."""


class FeedConfig(FeedOptions):
    name: Name
    """Unique name, shown in alerts and listings."""
    url: HttpUrl
    """http(s) URL of an RSS, Atom or JSON Feed."""
    headers: Headers = ()
    """Extra request headers for this feed (cookies, tokens)."""


class OpmlEntry(FeedOptions):
    """Every feed of an OPML file; tags, interval and extract apply to all of them."""

    opml: Text
    """Path of an OPML file, relative to the config file."""


class QuietHours(Section):
    start: ClockTime
    """HH:MM, local to timezone; alerts are held from here..."""
    end: ClockTime
    """...until here."""
    timezone: TimeZone = "UTC"
    """IANA time zone name, like Asia/Baku."""


class Template(Section):
    """Jinja2 source for an alert's title and body (rendered in a sandbox)."""

    title: Jinja | None = None
    """Jinja2 template of the alert's title."""
    body: Jinja | None = None
    """Jinja2 template of the alert's body."""


class NotifierSettings(Section):
    urls: AppriseUrls
    """The apprise URLs; each is delivered and retried on its own."""
    format: Format = "auto"
    """auto (by service), text, html or markdown."""
    rate_limit: Rate | None = None
    """At most N messages per period to each URL, e.g. 20/1m."""
    quiet_hours: QuietHours | None = None
    """Alerts are held while the window lasts."""
    digest: Digest | None = None
    """A duration (30m) or a 5-field cron expression: alerts are gathered into one message."""
    template: Template | None = None
    """Jinja2 templates of this notifier's alerts."""
    max_attempts: PositiveInt = 12
    """Failed sends are retried with backoff until this many attempts, then dead."""


class NotifierConfig(NotifierSettings):
    name: Name
    """The key under notifiers:."""


class RuleDelivery(Section):
    """What a rule does with a match, beside matching."""

    notify: NameList = ()
    """Notifier names; without it matches are stored but not sent."""
    template: Template | None = None
    """Jinja2 templates for this rule's alerts (default: the notifier's)."""
    escalate_at: PositiveInt | None = None
    """One follow-up alert when the story's cluster reaches this many sources."""
    updates: Bool = False
    """Alert again (once) when a matched story's headline materially changes."""


class RuleEntry(RuleDelivery):
    """A rule as written: a query, or any/all/none term lists."""

    name: Name
    """Unique rule name, shown in alerts."""
    query: Text | None = None
    """A query in the rule language; or use any/all/none."""
    any: TextList = ()
    """Terms of which at least one must appear."""
    all: TextList = ()
    """Terms that must all appear."""
    none: TextList = ()
    """Terms none of which may appear."""
    case_sensitive: Bool = False
    """Match case exactly for this rule."""
    fields: TextList = FIELDS
    """Which parts of a story the rule reads: title, summary, body."""
    feeds: TextList = ()
    """Feed names or tag:x the rule applies to; default all feeds."""
    languages: TextList = ()
    """Story languages the rule applies to (ISO 639-1 codes); default any."""
    min_score: Number = 0.0
    """Minimum score for a match (title hits weigh more than body hits)."""
    priority: Priority = "normal"
    """low, normal or high; high alerts skip digests and quiet hours."""

    def spec(self) -> RuleSpec:
        return RuleSpec(**{f.name: getattr(self, f.name) for f in dataclasses.fields(RuleSpec)})


class RuleConfig(RuleDelivery):
    spec: RuleSpec

    @property
    def name(self) -> str:
        return self.spec.name


def _list_of(what: str) -> BeforeValidator:
    def check(v: Any) -> Any:
        if not isinstance(v, list | tuple):
            raise ValueError(f"expected a list of {what}")
        return v

    return BeforeValidator(check)


def _shape(v: Any) -> str:
    return "<mapping>" if isinstance(v, dict) else "<short>"


FeedEntry = Annotated[
    Annotated[FeedConfig, Tag("<short>")] | Annotated[OpmlEntry, Tag("<mapping>")],
    Discriminator(lambda v: "<mapping>" if isinstance(v, dict) and "opml" in v else "<short>"),
]
DatabaseEntry = Annotated[
    Annotated[Text, Tag("<short>")] | Annotated[DatabaseConfig, Tag("<mapping>")],
    Discriminator(_shape),
]
NotifierEntry = Annotated[
    Annotated[AppriseUrls, Tag("<short>")] | Annotated[NotifierSettings, Tag("<mapping>")],
    Discriminator(_shape),
]


_NAMES_ONLY: dict[str, Any] = {"additionalProperties": False}  # keys outside the name pattern


class ConfigFile(Section):
    """watcher's config file (YAML). `${VAR}` in any string is replaced from the environment."""

    model_config = ConfigDict(title="watcher config")

    database: DatabaseEntry = DEFAULT_DATABASE
    """SQLAlchemy URL, or a mapping with url and auto_upgrade; $WATCHER_DATABASE_URL wins."""
    http: HttpConfig = HttpConfig()
    """The web UI, API, Atom feeds and metrics server."""
    polling: PollingConfig = PollingConfig()
    """How and how often feeds are fetched."""
    retention: RetentionConfig = RetentionConfig()
    """How long stored rows are kept."""
    feeds: Annotated[tuple[FeedEntry, ...], _list_of("feeds, each `- {name: ..., url: ...}`")] = ()
    """The feeds to poll: {name, url, ...} entries, or {opml: FILE} entries."""
    terms: dict[Name, TermList] = Field(default_factory=dict, json_schema_extra=_NAMES_ONLY)
    """Named term lists, used in any query as @NAME."""
    notifiers: dict[Name, NotifierEntry] = Field(
        default_factory=dict, json_schema_extra=_NAMES_ONLY
    )
    """Name -> one apprise URL, a list of them, or a mapping with urls and settings."""
    rules: Annotated[
        tuple[RuleEntry, ...], _list_of("rules, each `- {name: ..., query: ...}`")
    ] = ()
    """Keyword rules matched against every new story."""


class Config(Frozen):
    """The loaded config as every stage sees it."""

    path: str
    database: str = DEFAULT_DATABASE
    auto_upgrade: bool | None = None  # None: yes for SQLite, no for PostgreSQL
    http: HttpConfig = HttpConfig()
    polling: PollingConfig = PollingConfig()
    retention: RetentionConfig = RetentionConfig()
    feeds: tuple[FeedConfig, ...] = ()
    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()
    rules: tuple[RuleConfig, ...] = ()
    secrets: frozenset[str] = frozenset()
    """Substituted ${VAR} values and URL credentials, for masking."""

    @property
    def term_lists(self) -> dict[str, tuple[str, ...]]:
        return dict(self.terms)

    def notifier(self, name: str) -> NotifierConfig | None:
        return next((n for n in self.notifiers if n.name == name), None)

    def feed(self, name: str) -> FeedConfig | None:
        return self._feeds_by_name.get(name)

    def rule(self, name: str) -> RuleConfig | None:
        return self._rules_by_name.get(name)

    @functools.cached_property
    def _rules_by_name(self) -> dict[str, RuleConfig]:
        """Every new story's alert decision looks up the rules it matched: a dict of every rule
        built per story (twice) cost more than the decision."""
        return {r.name: r for r in self.rules}

    @functools.cached_property
    def feed_names(self) -> frozenset[str]:
        return frozenset(self._feeds_by_name)

    @functools.cached_property
    def _feeds_by_name(self) -> dict[str, FeedConfig]:
        """The dispatcher looks up every feed it claims: a scan of 10,000 feeds each time
        made a cycle quadratic."""
        return {f.name: f for f in self.feeds}
