"""Alert messages: a Jinja2 sandbox, default templates per output format, and the variables.

Everything in an alert comes from a feed, so it is hostile: templates run in Jinja2's
SandboxedEnvironment (a user's template cannot reach Python internals), HTML output is
autoescaped, Markdown output escapes every interpolated value, and only http(s) links are
shown. Templates render at delivery time from the context stored with the alert, so each
target gets its own format (HTML email, Telegram HTML, Markdown, plain text) and a digest can
combine stored alerts.

Variables (documented in README): `story` (title, url, feed, published_at, language, summary),
`rules` (name, priority, score, terms, hits[term, field, text, snippet, mark]), `sources`
(other feeds that carried the same story), `cluster_size`, `matched_at`, `kind` (alert, update,
escalation, body), and in digests `alerts` (a list of such contexts) and `count`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

FORMATS = ("text", "html", "telegram", "markdown")
MAX_HITS = 6
MAX_RULES = 10
TITLE_CHARS = 300
MAX_EXPONENT = 256
MAX_PRODUCT = 100_000

_DEFAULT_TITLE = (
    "[{{ rules|map(attribute='name')|join(', ') }}] "
    "{% if kind == 'escalation' %}{{ cluster_size }} sources: {% elif kind == 'update' %}Updated: {% endif %}"
    "{{ story.title }}"
)

_TEXT = """{{ story.title }}

Rules: {{ rules|map(attribute='name')|join(', ') }}
Source: {{ story.feed }} · Published: {{ story.published_at|when }}
{% for r in rules %}{{ r.name }}: {% for h in r.hits %}{{ h.term }} ({{ h.field }}){{ ', ' if not loop.last }}{% endfor %}
{% if r.hits %}  {{ r.hits[0]|marked }}
{% endif %}{% endfor %}{% if sources %}Also reported by: {{ sources|join(', ') }}
{% endif %}{% if story.url %}
{{ story.url }}{% endif %}"""

_HTML = """<p><b>{{ story.title }}</b></p>
<p>Rules: {{ rules|map(attribute='name')|join(', ') }}<br>
Source: {{ story.feed }} · Published: {{ story.published_at|when }}</p>
{% for r in rules %}<p><b>{{ r.name }}</b>: {% for h in r.hits %}{{ h.term }} ({{ h.field }}){{ ', ' if not loop.last }}{% endfor %}
{% if r.hits %}<br><i>{{ r.hits[0]|marked }}</i>{% endif %}</p>
{% endfor %}{% if sources %}<p>Also reported by: {{ sources|join(', ') }}</p>
{% endif %}{% if story.url %}<p><a href="{{ story.url }}">{{ story.url }}</a></p>{% endif %}"""

_TELEGRAM = """<b>{{ story.title }}</b>

Rules: {{ rules|map(attribute='name')|join(', ') }}
Source: {{ story.feed }} · {{ story.published_at|when }}
{% for r in rules %}<b>{{ r.name }}</b>: {% for h in r.hits %}{{ h.term }} ({{ h.field }}){{ ', ' if not loop.last }}{% endfor %}
{% if r.hits %}<i>{{ r.hits[0]|marked }}</i>
{% endif %}{% endfor %}{% if sources %}Also reported by: {{ sources|join(', ') }}
{% endif %}{% if story.url %}
<a href="{{ story.url }}">{{ story.url }}</a>{% endif %}"""

_MARKDOWN = """**{{ story.title }}**

Rules: {{ rules|map(attribute='name')|join(', ') }}
Source: {{ story.feed }} · Published: {{ story.published_at|when }}
{% for r in rules %}
**{{ r.name }}**: {% for h in r.hits %}{{ h.term }} ({{ h.field }}){{ ', ' if not loop.last }}{% endfor %}
{% if r.hits %}> {{ r.hits[0]|marked }}
{% endif %}{% endfor %}{% if sources %}
Also reported by: {{ sources|join(', ') }}
{% endif %}{% if story.url %}
{{ story.url|link }}{% endif %}"""

DEFAULT_BODIES = {"text": _TEXT, "html": _HTML, "telegram": _TELEGRAM, "markdown": _MARKDOWN}

_DIGEST_TITLE = "watcher digest: {{ count }} alert{{ 's' if count != 1 }}"
_DIGEST_ITEM = {
    "text": "{% for a in alerts %}- [{{ a.rules|map(attribute='name')|join(', ') }}] {{ a.story.title }} ({{ a.story.feed }})\n  {{ a.story.url }}\n{% endfor %}",
    "html": "<ul>{% for a in alerts %}<li>[{{ a.rules|map(attribute='name')|join(', ') }}] <a href=\"{{ a.story.url }}\">{{ a.story.title }}</a> ({{ a.story.feed }})</li>{% endfor %}</ul>",
    "telegram": "{% for a in alerts %}• [{{ a.rules|map(attribute='name')|join(', ') }}] <a href=\"{{ a.story.url }}\">{{ a.story.title }}</a> ({{ a.story.feed }})\n{% endfor %}",
    "markdown": "{% for a in alerts %}- [{{ a.rules|map(attribute='name')|join(', ') }}] {{ a.story.title }} ({{ a.story.feed }}) {{ a.story.url|link }}\n{% endfor %}",
}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


class _Safe(str):
    """A string a Markdown template must not escape again (a marked snippet)."""

    __slots__ = ()


def _md_finalize(value: Any) -> Any:
    if isinstance(value, _Safe) or not isinstance(value, str):
        return value
    return _MD_SPECIAL.sub(r"\\\1", value)


def markdown_escape(text: str) -> str:
    """Every character Markdown (and Discord's, Slack's dialects) could read as markup."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _when(value: Any) -> str:
    if not value:
        return "undated"
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(value)


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox bounds `range` but not `'x' * 10**9` or `9 ** 9 ** 9`, which a template
    can compute from nothing: each would take the process's memory or CPU at delivery time."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is larger than {MAX_EXPONENT}")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * n > MAX_PRODUCT:
                    raise SecurityError(f"a result over {MAX_PRODUCT} items")
        return super().call_binop(context, operator, left, right)


@cache
def template_environment(fmt: str = "text") -> SandboxedEnvironment:
    """One sandboxed environment per format; HTML-like formats autoescape."""
    html = fmt in ("html", "telegram")
    env = _BoundedSandbox(
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=False,
        finalize=_md_finalize if fmt == "markdown" else None,
    )
    env.filters["when"] = _when
    env.filters["marked"] = _marker(fmt)
    env.filters["link"] = _link if fmt == "markdown" else (lambda url: url)
    return env


@functools.lru_cache(maxsize=256)
def _compiled(fmt: str, source: str) -> Template:
    """Compiling costs far more than rendering; the same few templates render every alert."""
    return template_environment(fmt).from_string(source)


def _link(url: Any) -> Any:
    """A URL in Markdown output: angle-bracketed, not backslash-escaped (that breaks it)."""
    good = safe_url(str(url)) if url else None
    return _Safe(f"<{good.replace('>', '%3E').replace(' ', '%20')}>") if good else ""


def _marker(fmt: str) -> Any:
    def marked(hit: Mapping[str, Any]) -> Any:
        snippet = str(hit.get("snippet", ""))
        a, b = (hit.get("mark") or [0, 0])[:2]
        before, mid, after = snippet[:a], snippet[a:b], snippet[b:]
        if fmt in ("html", "telegram"):
            return Markup("{}<b>{}</b>{}").format(before, mid, after)
        if fmt == "markdown":
            esc = _md_finalize
            return _Safe(f"{esc(before)}**{esc(mid)}**{esc(after)}")
        return f"{before}«{mid}»{after}"

    return marked


def template_failure(
    context: Mapping[str, Any], title_src: str | None, body_src: str | None
) -> str | None:
    """Why a user template cannot render this alert in some format, or None when it can in
    all of them. Any exception counts: a user template is code we did not write."""
    for fmt in FORMATS:
        try:
            render(context, fmt, title_src, body_src)
        except Exception as exc:
            return f"template error ({fmt}): {type(exc).__name__}: {exc}"
    return None


_SAMPLE_HIT = {
    "term": "talks",
    "field": "title",
    "text": "talks",
    "snippet": "peace talks",
    "mark": [6, 11],
}
_SAMPLE_RULES = [
    {"name": "rule", "priority": "normal", "score": 1.0, "terms": ["talks"], "hits": [_SAMPLE_HIT]}
]
_SAMPLE_STORIES: dict[str, dict[str, Any]] = {
    "a dated story": {"published_at": "2026-11-28T05:00:00+00:00", "language": "en"},
    "an undated story": {"published_at": None, "language": "en"},
    "a story with no body": {"summary": "", "url": None, "language": None},
    **{
        f"a story in {lang}": {"language": lang, "title": title}
        for lang, title in (
            ("ru", "Переговоры по Карабаху"),
            ("hy", "Ղարաբաղի բանակցություններ"),
            ("az", "Qarabağ danışıqları"),
            ("ar", "محادثات السلام"),
            ("zh", "和平谈判"),
        )
    },
}


def sample_failures(title_src: str | None, body_src: str | None) -> list[str]:
    """What a user template does on the stories a feed will bring: dated and undated, with and
    without a body, in every script, in every output format. `watcher check` reports these."""
    out: list[str] = []
    for what, fields in _SAMPLE_STORIES.items():
        story = {
            "title": "Peace talks resume",
            "url": "https://example.org/a",
            "feed": "wire",
            "published_at": "2026-11-28T05:00:00+00:00",
            "language": "en",
            "summary": "Delegations met.",
            **fields,
        }
        context = alert_context(story, _SAMPLE_RULES, ["other-wire"], 2)
        failure = template_failure(context, title_src, body_src)
        if failure is not None:
            out.append(f"{failure} on {what}")
    return out


def render(
    context: Mapping[str, Any], fmt: str, title_src: str | None = None, body_src: str | None = None
) -> tuple[str, str]:
    """Title (always plain text) and body in `fmt`. Raises TemplateError from a user template."""
    ctx = dict(context)
    title = _compiled("text", title_src or _DEFAULT_TITLE).render(ctx)
    body = _compiled(fmt, body_src or DEFAULT_BODIES[fmt]).render(ctx)
    return _clip(" ".join(title.split()), TITLE_CHARS), body.strip()


def render_digest(contexts: Sequence[Mapping[str, Any]], fmt: str) -> tuple[str, str]:
    ctx = {"alerts": list(contexts), "count": len(contexts)}
    title = template_environment("text").from_string(_DIGEST_TITLE).render(ctx)
    body = template_environment(fmt).from_string(_DIGEST_ITEM[fmt]).render(ctx)
    return title, body.strip()


def fit(title: str, body: str, title_max: int, body_max: int) -> tuple[str, str]:
    """Clip to a service's limits (Telegram: 4096 characters of body)."""
    return _clip(title, title_max), _clip(body, body_max)


def _clip(text: str, limit: int) -> str:
    if limit <= 0 or len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are shown or followed."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def alert_context(
    story: Mapping[str, Any],
    rules: Sequence[Mapping[str, Any]],
    sources: Sequence[str] = (),
    cluster_size: int = 1,
    kind: str = "alert",
    matched_at: datetime | None = None,
) -> dict[str, Any]:
    """The stored, JSON-serialisable variables of one alert."""
    return {
        "story": {
            **story,
            "title": _clip(str(story.get("title", "")), TITLE_CHARS),
            "url": safe_url(story.get("url")),
        },
        "rules": [{**r, "hits": list(r.get("hits", []))[:MAX_HITS]} for r in rules[:MAX_RULES]],
        "sources": list(sources),
        "cluster_size": cluster_size,
        "kind": kind,
        "matched_at": matched_at.isoformat() if matched_at else None,
    }


__all__ = [
    "DEFAULT_BODIES",
    "FORMATS",
    "TemplateError",
    "alert_context",
    "escape",
    "fit",
    "markdown_escape",
    "render",
    "render_digest",
    "safe_url",
    "template_environment",
]
