"""Hot reload: what changed between two configs, in one line for the log.

The daemon watches the config file and reloads on SIGHUP; a valid edit replaces the running
config, an invalid one is refused and the last good config keeps running.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from watcher.config import Config


def summarize(old: Config, new: Config) -> str:
    """e.g. `rules +border ~karabakh-talks; feeds -apa; notifiers +ops` or `no effective change`."""
    parts = [
        _diff("rules", {r.name: r for r in old.rules}, {r.name: r for r in new.rules}),
        _diff("feeds", {f.name: f for f in old.feeds}, {f.name: f for f in new.feeds}),
        _diff("terms", dict(old.terms), dict(new.terms)),
        _diff("notifiers", {n.name: n for n in old.notifiers}, {n.name: n for n in new.notifiers}),
    ]
    if old.polling != new.polling:
        parts.append("polling changed (limits apply to new connections after restart)")
    if old.database != new.database:
        parts.append("database changed (ignored until restart)")
    text = "; ".join(p for p in parts if p)
    return text or "no effective change"


def _diff(label: str, old: Mapping[str, object], new: Mapping[str, object]) -> str:
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    items = _signed("+", added) + _signed("-", removed) + _signed("~", changed)
    return f"{label} {' '.join(items)}" if items else ""


def _signed(sign: str, names: Iterable[str]) -> list[str]:
    return [sign + n for n in names]
