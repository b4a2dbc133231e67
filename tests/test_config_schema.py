"""`watcher config schema`: a valid JSON Schema that agrees with `watcher check`."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, run_watcher
from watcher.config import parse_config
from watcher.config.schema import SCHEMA_FILE, schema_text
from watcher.errors import ConfigError

BUNDLED = (ROOT / "config" / "watcher.yaml").read_text(encoding="utf-8")
SCHEMA: dict[str, Any] = json.loads(schema_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def schema_errors(text: str) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(text))]


def test_command_prints_a_valid_json_schema() -> None:
    result = run_watcher("config", "schema")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(printed)  # raises SchemaError if not
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed["additionalProperties"] is False
    polling = printed["$defs"]["PollingConfig"]["properties"]
    assert "first interval" in polling["interval"]["description"]  # field docs become descriptions


def test_shipped_schema_file_is_current() -> None:
    shipped = (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")
    assert shipped == schema_text(), "run: watcher config schema > config/watcher.schema.json"


def test_bundled_config_points_editors_at_the_schema() -> None:
    first = BUNDLED.splitlines()[0]
    m = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert m, first
    assert (ROOT / "config" / m.group(1)).resolve() == (ROOT / SCHEMA_FILE).resolve()


def test_bundled_config_validates_against_the_schema() -> None:
    assert schema_errors(BUNDLED) == []


def test_readme_examples_validate_against_the_schema() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    assert blocks
    for block in blocks:
        assert schema_errors(block) == [], block


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("  interval: 5m", "  intreval: 5m"),  # a misspelt key
        ("  timeout: 30s", "  timeout: soon"),  # not a duration
        ("  max_bytes: 10MB", "  max_bytes: lots"),  # not a size
        ("  workers: auto", "  workers: many"),
        ("  stories: 90d", "  stories: sometimes"),
        ("interval: 2m, tags:", "intervall: 2m, tags:"),  # a misspelt key in a feed entry
        ("    query: '@pashinyan AND @aliyev'", "    querry: '@pashinyan AND @aliyev'"),
    ],
)
def test_a_broken_bundled_config_fails_both_schema_and_check(good: str, bad: str) -> None:
    assert good in BUNDLED
    broken = BUNDLED.replace(good, bad, 1)
    assert schema_errors(broken), f"the schema accepts {bad!r}"
    with pytest.raises(ConfigError):
        parse_config("w.yaml", broken, {})


@pytest.mark.parametrize(
    "snippet",
    [
        "database: {url: 'sqlite:///x.db', auto_upgrade: true}\n",
        "notifiers:\n  desk: 'json://example.org/hook'\n",
        "notifiers:\n  desk:\n    urls: ['json://example.org/hook']\n    rate_limit: 20/1m\n"
        "    quiet_hours: {start: '22:00', end: '07:00', timezone: Asia/Baku}\n"
        "    digest: '0 8 * * *'\n",
        "feeds:\n  - {opml: feeds.opml, tags: [imported], interval: 10m}\n",
        "retention: {stories: forever, matched_stories: forever, deliveries: 2w}\n",
        "polling: {workers: 0, max_bytes: 512KB, host_gap: 250ms, timeout: 45}\n",
    ],
)
def test_every_shape_the_loader_accepts_the_schema_accepts(snippet: str) -> None:
    assert schema_errors(snippet) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "colour: blue\n",
        "notifiers:\n  desk: {url: 'json://example.org/hook'}\n",
        "notifiers:\n  desk: {urls: ['json://x/y'], format: fancy}\n",
        "feeds:\n  - {name: a, url: 'ftp://x/y'}\n",
        "feeds:\n  - {name: a}\n",
        "feeds:\n  - {opml: x.opml, name: a}\n",
        "rules:\n  - {name: r, query: a, priority: urgent}\n",
        "polling: {allow_private_addresses: maybe}\n",
        "terms:\n  'bad name': [x]\n",
        "terms:\n  empty: []\n",
        "notifiers:\n  desk: {urls: []}\n",
    ],
)
def test_shapes_the_loader_rejects_the_schema_rejects(snippet: str) -> None:
    assert schema_errors(snippet), snippet
    with pytest.raises(ConfigError):
        parse_config("w.yaml", snippet, {})


def test_every_key_has_a_description() -> None:
    """Field docstrings in watcher/config/model.py are what an editor shows on hover."""
    sections = [SCHEMA, *SCHEMA["$defs"].values()]
    missing = [
        f"{section['title']}.{key}"
        for section in sections
        for key, prop in section.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert missing == []
