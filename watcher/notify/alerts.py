"""Which alerts a matched story produces: one per notifier, naming every rule that sent it there."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from watcher.config import Config
from watcher.model import AlertStory
from watcher.notify.templates import alert_context, render, template_failure
from watcher.rules import RuleMatch
from watcher.store import OutboxAlert
from watcher.store.clusters import ClusterInfo

log = logging.getLogger("watcher.notify")


def build_alerts(
    config: Config,
    story: AlertStory,
    matches: Sequence[RuleMatch],
    now: datetime,
    sources: Sequence[str] = (),
    cluster_size: int = 1,
    kind: str = "alert",
) -> tuple[OutboxAlert, ...]:
    by_notifier: dict[str, list[RuleMatch]] = {}
    for m in matches:
        rule = config.rule(m.rule)
        for name in rule.notify if rule is not None else ():
            by_notifier.setdefault(name, []).append(m)
    if not by_notifier:
        return ()
    story_vars = story.variables()
    out = []
    for name, ms in by_notifier.items():
        notifier = config.notifier(name)
        if notifier is None:
            continue
        context = alert_context(
            story_vars, [_rule_vars(m) for m in ms], sources, cluster_size, kind, now
        )
        high = any(m.priority == "high" for m in ms)
        user = next((r for m in ms if (r := config.rule(m.rule)) and r.template), None)
        template = user.template if user else None
        if template is not None:
            assert user is not None
            failure = template_failure(context, template.title, template.body)
            if failure is not None:
                # a broken custom format costs the format, not the alert
                context["template_error"] = f"rule {user.name}: {failure}; default template used"
                log.warning("alert for %s via %s: %s", story.feed, name, failure)
                template = None
        title, _ = render(context, "text", template.title if template else None)
        out.append(
            OutboxAlert(
                notifier=name,
                title=title,
                context=context,
                targets=len(notifier.urls),
                kind=kind,
                priority="high"
                if high
                else ("low" if all(m.priority == "low" for m in ms) else "normal"),
                held=notifier.digest is not None and not high,
                rule_template={"title": template.title, "body": template.body}
                if template
                else None,
            )
        )
    return tuple(out)


def cluster_alerts(
    config: Config,
    story: AlertStory,
    matches: Sequence[RuleMatch],
    now: datetime,
    info: ClusterInfo,
) -> tuple[OutboxAlert, ...]:
    """A rule alerts once per story cluster: a later copy of the same story from another feed
    alerts only for rules no earlier copy matched, and sends one follow-up (`escalation`) when
    the cluster reaches the rule's `escalate_at` sources."""
    fresh = [m for m in matches if m.rule not in info.alerted_rules]
    due = [
        m
        for m in matches
        if m.rule in info.alerted_rules
        and m.rule not in info.escalated_rules
        and (rule := config.rule(m.rule)) is not None
        and (n := rule.escalate_at) is not None
        and info.size >= n
    ]
    return build_alerts(config, story, fresh, now, info.sources, info.size) + build_alerts(
        config, story, due, now, info.sources, info.size, kind="escalation"
    )


def body_alerts(
    config: Config,
    story: AlertStory,
    matches: Sequence[RuleMatch],
    now: datetime,
    info: ClusterInfo,
    taken: frozenset[tuple[str, str]],
) -> tuple[OutboxAlert, ...]:
    """The alerts of a story whose article page arrived after it was stored and alerted on
    the feed's text: as `cluster_alerts`, for the rules the page's text adds. A notifier
    the story already alerted gets them as kind `body` (one alert per story, notifier and
    kind), so a rule matched only with the article still alerts, and none alerts twice."""
    out = list(cluster_alerts(config, story, matches, now, info))
    again = {a.notifier for a in out if a.kind == "alert" and (a.notifier, "alert") in taken}
    if again:
        out = [a for a in out if not (a.kind == "alert" and a.notifier in again)]
        fresh = [m for m in matches if m.rule not in info.alerted_rules]
        more = build_alerts(config, story, fresh, now, info.sources, info.size, kind="body")
        out += [a for a in more if a.notifier in again]
    return tuple(out)


def _rule_vars(m: RuleMatch) -> dict[str, Any]:
    return {
        "name": m.rule,
        "priority": m.priority,
        "score": m.score,
        "terms": list(m.terms),
        "hits": [h.as_dict() for h in m.hits],
    }
