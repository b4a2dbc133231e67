"""Config loading: every error at once, each with FILE:LINE: key.path: message; exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, run_watcher
from watcher.config import load_config, parse_config, parse_duration
from watcher.errors import ConfigError

GOOD = """
database: sqlite:///tmp/x.db
polling: {interval: 5m, min_interval: 1m, max_interval: 6h, timeout: 20s, max_bytes: 5MB}
feeds:
  - {name: trend, url: "https://en.trend.az/feeds/index.rss", interval: 2m, tags: [agency, az]}
terms:
  karabakh: [Karabakh, Qarabağ]
notifiers:
  desk: ["json://example.org/hook"]
rules:
  - name: karabakh-talks
    query: '@karabakh AND (peace OR talks)'
    notify: [desk]
  - {name: pashinyan, any: [Pashinyan, Paşinyan], notify: [desk]}
"""

BAD = """database: sqlite:///tmp/x.db
polling:
  intreval: 5m
  timeout: soon
feeds:
  - {name: trend, url: "https://en.trend.az/feeds/index.rss"}
notifiers:
  desk: ["json://example.org/hook"]
rules:
  - name: unbalanced
    query: '(Karabakh AND talks'
    notify: [desk]
  - name: nowhere
    any: [Aliyev]
    notify: [ops]
"""


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config("w.yaml", text, env or {})
    return [str(p) for p in info.value.problems]


def test_good_config_loads_into_frozen_objects() -> None:
    cfg = parse_config("w.yaml", GOOD, {})
    assert cfg.polling.interval == 300 and cfg.polling.timeout == 20
    assert cfg.polling.max_bytes == 5 * 1024 * 1024
    assert cfg.feeds[0].interval == 120 and cfg.feeds[0].tags == ("agency", "az")
    assert cfg.rules[1].spec.any == ("Pashinyan", "Paşinyan")
    assert cfg.notifier("desk") is not None
    with pytest.raises(AttributeError):
        cfg.feeds[0].url = "x"  # type: ignore[misc]


def test_every_error_reported_with_line_and_path() -> None:
    found = problems(BAD)
    assert any(
        p.startswith("w.yaml:3: polling.intreval: unknown key; did you mean 'interval'")
        for p in found
    ), found
    assert any(p.startswith("w.yaml:4: polling.timeout: expected a duration") for p in found), found
    assert any(p.startswith("w.yaml:11: rules[0].query:") and "')'" in p for p in found), found
    assert any(
        p.startswith("w.yaml:15: rules[1].notify[0]: unknown notifier 'ops'") for p in found
    ), found
    assert len(found) == 4, found


def test_yaml_syntax_error_names_the_line() -> None:
    found = problems("feeds:\n  - {name: a, url: 'http://x'\nrules: []\n")
    assert len(found) == 1 and found[0].startswith("w.yaml:3: YAML syntax error"), found


def test_env_substitution_and_missing_variable() -> None:
    text = 'notifiers:\n  desk: ["json://example.org/${HOOK_PATH}"]\n'
    cfg = parse_config("w.yaml", text, {"HOOK_PATH": "s3cr3t-hook-path"})
    assert cfg.notifiers[0].urls == ("json://example.org/s3cr3t-hook-path",)
    assert "s3cr3t-hook-path" in cfg.secrets
    assert problems(text) == [
        "w.yaml:2: notifiers.desk[0]: environment variable HOOK_PATH is not set; "
        "export it, set HOOK_PATH_FILE to a file holding it, or write ${HOOK_PATH:-default}"
    ]
    dflt = parse_config("w.yaml", 'database: "${DB:-sqlite:///d.db}"\n', {})
    assert dflt.database == "sqlite:///d.db"


def test_database_url_from_environment_overrides_file() -> None:
    cfg = parse_config("w.yaml", GOOD, {"WATCHER_DATABASE_URL": "sqlite:///other.db"})
    assert cfg.database == "sqlite:///other.db"


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "feeds:\n  - {name: a, url: 'ftp://x/y'}\n",
            "w.yaml:2: feeds[0].url: expected an http(s):// URL",
        ),
        ("feeds:\n  - {name: a}\n", "w.yaml:2: feeds[0].url: is required"),
        (
            "feeds:\n  - {name: a, url: 'http://x', extract: maybe}\n",
            "w.yaml:2: feeds[0].extract: expected true or false",
        ),
        (
            "notifiers:\n  desk: ['nosuchscheme://x']\n",
            "w.yaml:2: notifiers.desk[0]: apprise has no service 'nosuchscheme://'",
        ),
        ("rules:\n  - {name: r, query: 'a AND'}\n", "w.yaml:2: rules[0].query:"),
        ("rules:\n  - {name: r, query: '@nolist'}\n", "w.yaml:2: rules[0].query:"),
        (
            "rules:\n  - {name: r, query: 'a', priority: urgent}\n",
            "w.yaml:2: rules[0].priority: priority is one of",
        ),
        (
            "rules:\n  - {name: r, query: a}\n  - {name: r, query: b}\n",
            "w.yaml:3: rules[1].name: rule name 'r' is used twice",
        ),
        ("polling: {interval: 5 minutes}\n", "w.yaml:1: polling.interval: expected a duration"),
        ("polling: {workers: -1}\n", "w.yaml:1: polling.workers: expected auto, 0 (threads"),
        ("polling: {workers: many}\n", "w.yaml:1: polling.workers: expected auto, 0 (threads"),
        ("colour: blue\n", "w.yaml:1: colour: unknown key"),
        ("- just\n- a list\n", "w.yaml:1: the config must be a mapping"),
    ],
)
def test_single_problems(snippet: str, expected: str) -> None:
    found = problems(snippet)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(("value", "workers"), [("auto", None), ("0", 0), ("3", 3), ("", None)])
def test_polling_workers(value: str, workers: int | None) -> None:
    text = f"polling: {{workers: {value}}}\n" if value else "feeds: []\n"
    assert parse_config("w.yaml", text, {}).polling.workers == workers


def test_notifier_secrets_not_echoed_in_errors() -> None:
    found = problems("notifiers:\n  desk: ['nosuchscheme://user:hunter2secret@host']\n")
    assert not any("hunter2secret" in p for p in found)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("2h", 7200), ("1h30m", 5400), ("30d", 2592000), (45, 45)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "-5s", "5x", "1h 30"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_a_duration_of_the_wrong_type_is_a_config_error() -> None:
    """Found by the config loader's property test: a list where a duration goes escaped as an
    AttributeError instead of a message naming the key."""
    found = problems("polling: {timeout: []}\n")
    assert any("timeout" in p and "expected a duration" in p for p in found), found


def test_check_command_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    result = run_watcher("check", "-c", str(bad))
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith(str(bad))]
    assert len(lines) == 4 and all(ln.split(":")[1].isdigit() for ln in lines), result.stderr

    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("rules:\n  - name: x\n   query: y\n", encoding="utf-8")
    result = run_watcher("check", "-c", str(syntax))
    assert result.returncode == 2 and f"{syntax}:3: YAML syntax error" in result.stderr

    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    result = run_watcher("check", "-c", str(good))
    assert result.returncode == 0 and "OK: 1 feed(s), 2 rule(s), 1 notifier(s)" in result.stdout


def test_bundled_config_is_valid() -> None:
    cfg = load_config(str(ROOT / "config" / "watcher.yaml"), env={})
    assert len(cfg.feeds) >= 10 and len(cfg.rules) >= 3
    result = run_watcher("check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", ["matches", "backtest", "search"])
def test_bad_since_is_a_usage_error(command: str) -> None:
    args = [command, "--since", "soon"] + (["Karabakh"] if command == "search" else [])
    result = run_watcher(*args)
    assert result.returncode == 2
    assert (
        "argument --since: expected a duration like 90s, 5m, 2h or 30d, got 'soon'" in result.stderr
    )


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (  # inside a union (URL list or mapping): the hint names the mapping's keys only
            "notifiers:\n  desk: {url: 'json://x/y'}\n",
            "w.yaml:2: notifiers.desk.url: unknown key; did you mean 'urls'? (allowed: digest, "
            "format, max_attempts, quiet_hours, rate_limit, template, urls)",
        ),
        (  # a feed entry is offered a feed's keys, an OPML entry an OPML entry's
            "feeds:\n  - {name: a, url: 'https://x/y', tag: [b]}\n",
            "w.yaml:2: feeds[0].tag: unknown key; did you mean 'tags'? (allowed: extract, headers, "
            "interval, name, tags, url)",
        ),
        (
            "feeds:\n  - {opml: x.opml, url: 'https://x/y'}\n",
            "w.yaml:2: feeds[0].url: unknown key (allowed: extract, interval, opml, tags)",
        ),
        (
            "notifiers:\n  desk:\n    urls: ['json://x/y']\n    quiet_hours: {start: '22:00', end: '07:00', timzone: UTC}\n",
            "w.yaml:4: notifiers.desk.quiet_hours.timzone: unknown key; did you mean 'timezone'?",
        ),
        (
            "notifiers:\n  'desk one': 'json://x/y'\n",
            "w.yaml:2: notifiers.desk one: 'desk one' is not a valid name",
        ),
        ("polling: [1, 2]\n", "w.yaml:1: polling: expected a mapping of keys, got list"),
    ],
)
def test_problem_messages(snippet: str, expected: str) -> None:
    found = problems(snippet)
    assert any(p.startswith(expected) for p in found), found


def test_checks_across_keys_still_run_beside_a_bad_value() -> None:
    """One `watcher check` lists every problem: a bad value elsewhere in the section or the
    entry does not hide the checks that need several keys."""
    found = problems("polling: {interval: soon, min_interval: 2h, max_interval: 1h}\n")
    assert "w.yaml:1: polling.min_interval: min_interval must not exceed max_interval" in found
    found = problems("rules:\n  - {name: r, query: 'a AND', priority: urgent, notify: [ops]}\n")
    assert len(found) == 3, found
    assert any(p.startswith("w.yaml:2: rules[0].notify[0]: unknown notifier 'ops'") for p in found)
    assert any(p.startswith("w.yaml:2: rules[0].query:") for p in found), found


def test_empty_value_means_the_default() -> None:
    cfg = parse_config("w.yaml", "polling:\n  interval:\n  timeout: 10s\n", {})
    assert cfg.polling.interval == 300 and cfg.polling.timeout == 10


def test_sections_are_frozen_and_typed() -> None:
    cfg = parse_config("w.yaml", GOOD, {})
    for obj, key in ((cfg, "database"), (cfg.polling, "interval"), (cfg.rules[0], "notify")):
        with pytest.raises(AttributeError):
            setattr(obj, key, None)
    assert isinstance(cfg.polling.max_bytes, int) and isinstance(cfg.polling.interval, float)
    assert cfg.notifiers[0].name == "desk" and cfg.notifiers[0].format == "auto"
    assert cfg.term_lists == {"karabakh": ("Karabakh", "Qarabağ")}
