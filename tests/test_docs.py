"""README and the bundled config document every config key and command that exists."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from watcher.cli import build_parser
from watcher.config.http import HTTP_KEYS
from watcher.config.load import (
    DATABASE_KEYS,
    FEED_KEYS,
    NOTIFIER_KEYS,
    OPML_KEYS,
    POLLING_KEYS,
    RETENTION_KEYS,
    RULE_KEYS,
    TOP_KEYS,
)

README = (ROOT / "README.md").read_text(encoding="utf-8")
BUNDLED = (ROOT / "config" / "watcher.yaml").read_text(encoding="utf-8")

KEYS = (
    [k for k in TOP_KEYS]
    + [f"polling.{k}" for k in POLLING_KEYS]
    + [f"retention.{k}" for k in RETENTION_KEYS]
    + [f"feeds[].{k}" for k in FEED_KEYS | OPML_KEYS]
    + [f"rules[].{k}" for k in RULE_KEYS]
    + [f"notifiers.NAME.{k}" for k in NOTIFIER_KEYS]
    + [f"database.{k}" for k in DATABASE_KEYS]
    + [f"http.{k}" for k in HTTP_KEYS]
)


@pytest.mark.parametrize("key", sorted(KEYS))
def test_config_key_documented_in_readme(key: str) -> None:
    if key.startswith("rules[].") and key.split(".")[1] in ("any", "all", "none"):
        assert "`rules[].any` / `all` / `none`" in README
        return
    # a section is documented through its entries: `feeds[].url`, `notifiers.NAME`, ...
    pattern = rf"`{re.escape(key)}`" if "." in key else rf"`{re.escape(key)}[`.\[]"
    assert re.search(pattern, README), f"README does not document {key}"


@pytest.mark.parametrize("key", sorted(KEYS))
def test_config_key_appears_in_bundled_config(key: str) -> None:
    leaf = key.rsplit(".", 1)[-1]
    assert re.search(rf"\b{re.escape(leaf)}\b", BUNDLED), (
        f"config/watcher.yaml never mentions {leaf}"
    )


def test_every_command_documented() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, cmd_parser in sub.choices.items():  # type: ignore[union-attr]
        assert f"`watcher {name}" in README, name
        for action in cmd_parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag not in ("--help",):
                    assert flag in README, f"{name} {flag} not in README"


def test_readme_yaml_examples_are_valid_configs() -> None:
    from watcher.config import parse_config

    blocks = re.findall(r"```yaml\n(.*?)```", README, re.S)
    assert blocks
    for block in blocks:
        parse_config(
            "README.md",
            block,
            {
                "SMTP_USER": "u",
                "SMTP_PASS": "p",
                "TELEGRAM_BOT_TOKEN": "123:abc",
                "TELEGRAM_CHAT_ID": "-1",
            },
        )
