"""`watcher check` warnings: slips that load without error but make a rule or feed do nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_watcher
from watcher.config import parse_config
from watcher.config.lint import lint, refusal

BASE = """feeds:
  - {name: trend, url: "https://en.trend.az/feeds/index.rss", tags: [agency]}
  - {name: apa, url: "https://apa.az/rss/en"}
notifiers:
  desk: ["json://127.0.0.1:9/hook"]
"""

SLIPS = [
    (
        "regex term",
        BASE + "rules:\n  - {name: kb, any: ['Karabakh|Artsakh'], notify: [desk]}\n",
        "w.yaml:7: rules[0].any[0]: warning: 'Karabakh|Artsakh' looks like a regular expression",
        "write Karabakh OR Artsakh in a query",
    ),
    (
        "regex query",
        BASE + "rules:\n  - name: kb\n    query: 'Karabakh|Artsakh'\n    notify: [desk]\n",
        "w.yaml:8: rules[0].query: warning: 'Karabakh|Artsakh' looks like a regular expression",
        "list the words under any:",
    ),
    (
        "regex in a term list",
        BASE
        + "terms:\n  kb: ['\\bKarabakh\\b']\nrules:\n  - {name: kb, query: '@kb', notify: [desk]}\n",
        "w.yaml:7: terms.kb[0]: warning:",
        "looks like a regular expression",
    ),
    (
        "a tag written as a feed name",
        BASE + "rules:\n  - {name: kb, any: [Karabakh], feeds: [agency], notify: [desk]}\n",
        "w.yaml:7: rules[0].feeds[0]: warning: no feed is named 'agency'",
        "'agency' is a tag: write 'tag:agency'",
    ),
    (
        "an unknown feed name",
        BASE + "rules:\n  - {name: kb, any: [Karabakh], feeds: [trned], notify: [desk]}\n",
        "w.yaml:7: rules[0].feeds[0]: warning: no feed is named 'trned'",
        "(feeds: apa, trend)",
    ),
    (
        "an unknown tag",
        BASE + "rules:\n  - {name: kb, any: [Karabakh], feeds: ['tag:wire'], notify: [desk]}\n",
        "w.yaml:7: rules[0].feeds[0]: warning: no feed has the tag 'wire'",
        "tags in use: agency",
    ),
    (
        "a rule without notify while notifiers exist",
        BASE + "rules:\n  - {name: kb, any: [Karabakh]}\n",
        "w.yaml:7: rules[0]: warning: rule 'kb' has no notify",
        "add notify: [desk]",
    ),
    (
        "one URL under two names",
        BASE.replace(
            "notifiers:",
            '  - {name: trend-again, url: "https://EN.trend.az/feeds/index.rss/"}\nnotifiers:',
        )
        + "rules:\n  - {name: kb, any: [Karabakh], notify: [desk]}\n",
        "w.yaml:4: feeds[2].url: warning: feed 'trend-again' has the same URL as feed 'trend'",
        "polled twice",
    ),
    (
        "an empty file",
        "",
        "w.yaml:1: (top): warning: no feeds and no rules",
        "nothing will be watched",
    ),
    ("no rules", BASE, "w.yaml:1: (top): warning: no rules", "nothing ever matches"),
]


@pytest.mark.parametrize(("label", "text", "where", "advice"), SLIPS, ids=[s[0] for s in SLIPS])
def test_each_slip_is_a_warning_that_says_what_to_do(
    label: str, text: str, where: str, advice: str
) -> None:
    warnings = lint(parse_config("w.yaml", text, {}), text)
    hit = [w for w in warnings if w.startswith(where)]
    assert hit, warnings
    assert advice in hit[0]


def test_a_clean_config_and_the_bundled_one_have_no_warnings() -> None:
    text = (
        BASE
        + "rules:\n  - {name: kb, any: [Karabakh], feeds: ['tag:agency', apa], notify: [desk]}\n"
    )
    assert lint(parse_config("w.yaml", text, {}), text) == []
    bundled = Path(__file__).parent.parent / "config" / "watcher.yaml"
    done = run_watcher("check", "--strict", "-c", str(bundled))
    assert done.returncode == 0, done.stderr


def test_check_prints_warnings_and_strict_fails_on_them(tmp_path: Path) -> None:
    cfg = tmp_path / "w.yaml"
    cfg.write_text(BASE + "rules:\n  - {name: kb, any: ['Karabakh|Artsakh']}\n", encoding="utf-8")
    done = run_watcher("check", "-c", str(cfg))
    assert done.returncode == 0
    assert "OK: 2 feed(s), 1 rule(s), 1 notifier(s), 2 warning(s)" in done.stdout
    assert f"{cfg}:7: rules[0]: warning: rule 'kb' has no notify" in done.stderr
    strict = run_watcher("check", "--strict", "-c", str(cfg))
    assert strict.returncode == 2
    assert strict.stderr == done.stderr


def test_reload_refusal_for_files_that_would_stop_all_watching() -> None:
    full = parse_config("w.yaml", BASE + "rules:\n  - {name: kb, any: [Karabakh]}\n", {})
    assert refusal(full, parse_config("w.yaml", "", {})) is not None
    assert "no rules" in (refusal(full, parse_config("w.yaml", BASE, {})) or "")
    assert refusal(full, full) is None
    assert refusal(parse_config("w.yaml", "", {}), full) is None  # adding is always fine
