"""README and the bundled config document every config key and command that exists."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from watcher.cli import build_parser
from watcher.config.schema import config_keys

README = (ROOT / "README.md").read_text(encoding="utf-8")
BUNDLED = (ROOT / "config" / "watcher.yaml").read_text(encoding="utf-8")

KEYS = config_keys()
# a key with keys below it (`polling`, `notifiers.NAME`) may have a row, but needs none
LEAVES = [k for k in KEYS if not any(o.startswith((f"{k}.", f"{k}[]")) for o in KEYS)]


def readme_table_keys() -> list[str]:
    """The first column of the README's config table, one key a row."""
    table = README.split("| key | default | meaning |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", table, re.M)


def test_readme_table_names_only_keys_that_exist() -> None:
    rows = readme_table_keys()
    assert rows, "README has no config key table"
    assert [k for k in rows if k not in KEYS] == []
    assert len(rows) == len(set(rows)), "a key has two rows"


@pytest.mark.parametrize("key", LEAVES)
def test_config_key_documented_in_readme(key: str) -> None:
    assert key in readme_table_keys(), f"README's config table has no row for `{key}`"


@pytest.mark.parametrize("key", KEYS)
def test_config_key_appears_in_bundled_config(key: str) -> None:
    leaf = key.replace("[]", "").rsplit(".", 1)[-1]
    if leaf == "NAME":  # a free key: the mapping above it must be there
        leaf = key.replace("[]", "").rsplit(".", 2)[-2]
    assert re.search(rf"(^|[\s{{,#]){re.escape(leaf)}:", BUNDLED, re.M), (
        f"config/watcher.yaml never shows `{leaf}:` (commented or not) for {key}"
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
