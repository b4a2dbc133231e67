"""`watcher backtest`: the current rules over stored stories, compared with what matched then.

Nothing is written and nothing is sent; it answers "what would this edit have caught?".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from watcher.config import Config
from watcher.rules import Document, RuleSet
from watcher.store import Store, iter_stories, matched_pairs

SAMPLES = 3


@dataclass
class RuleOutcome:
    rule: str
    hits: int = 0  # stories the current rule matches
    then: int = 0  # stories it matched when they were stored
    new: int = 0  # matched now, not then
    lost: int = 0  # matched then, not now
    samples: list[str] = field(default_factory=list)
    new_samples: list[str] = field(default_factory=list)
    lost_samples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Backtest:
    stories: int
    outcomes: list[RuleOutcome]


def backtest(
    config: Config, store: Store, since: datetime | None, rule: str | None = None
) -> Backtest:
    rules = RuleSet.compile([r.spec for r in config.rules], config.term_lists)
    names = [n for n in rules.rule_names if rule is None or n == rule]
    outcomes = {n: RuleOutcome(n) for n in names}
    then = matched_pairs(store, since)
    tags = {f.name: f.tags for f in config.feeds}
    count = 0
    for batch in iter_stories(store, since):
        for st in batch:
            count += 1
            doc = Document(
                title=st.title,
                summary=st.summary,
                body=st.body,
                feed=st.feed,
                tags=tags.get(st.feed, ()),
                language=st.language,
            )
            now = {m.rule for m in rules.match(doc)}
            for name, out in outcomes.items():
                was = (st.id, name) in then
                if name in now:
                    out.hits += 1
                    _sample(out.samples, st.title)
                if was:
                    out.then += 1
                if name in now and not was:
                    out.new += 1
                    _sample(out.new_samples, st.title)
                if was and name not in now:
                    out.lost += 1
                    _sample(out.lost_samples, st.title)
    return Backtest(stories=count, outcomes=list(outcomes.values()))


def _sample(samples: list[str], title: str) -> None:
    if len(samples) < SAMPLES:
        samples.append(title)


def render(result: Backtest) -> str:
    lines = [f"{result.stories} stored stories evaluated; nothing was sent", ""]
    width = max((len(o.rule) for o in result.outcomes), default=4)
    lines.append(f"{'rule':<{width}}  {'hits':>6}  {'then':>6}  {'new':>6}  {'lost':>6}")
    for o in result.outcomes:
        lines.append(f"{o.rule:<{width}}  {o.hits:>6}  {o.then:>6}  {o.new:>6}  {o.lost:>6}")
    for o in result.outcomes:
        for label, titles in (
            ("e.g.", o.samples),
            ("new", o.new_samples),
            ("lost", o.lost_samples),
        ):
            for t in titles:
                lines.append(f"  {o.rule} {label}: {t}")
    return "\n".join(lines)
