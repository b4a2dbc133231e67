"""`${VAR}` reads `$VAR_FILE` when VAR is unset (Docker and Kubernetes secrets are files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_watcher
from watcher.config import parse_config
from watcher.errors import ConfigError

CONFIG = """database: sqlite:///{tmp}/w.db
notifiers:
  desk: ["tgram://${{TG_TOKEN}}/-100"]
feeds:
  - {{name: wire, url: "https://example.org/rss"}}
rules:
  - {{name: k, any: [Karabakh], notify: [desk]}}
"""
TOKEN = "123456:AAHsecretTokenFromAFile"


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(CONFIG.format(tmp=tmp_path), encoding="utf-8")
    return path


def test_value_read_from_the_file_with_one_trailing_newline_dropped(tmp_path: Path) -> None:
    secret = tmp_path / "tg_token"
    secret.write_text(TOKEN + "\n", encoding="utf-8")
    config = parse_config("w.yaml", CONFIG.format(tmp=tmp_path), {"TG_TOKEN_FILE": str(secret)})
    assert config.notifiers[0].urls == (f"tgram://{TOKEN}/-100",)
    assert TOKEN in config.secrets  # masked in logs like any substituted value


def test_the_variable_itself_wins_over_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "tg_token"
    secret.write_text("999:fromfile", encoding="utf-8")
    env = {"TG_TOKEN": "111:fromenv", "TG_TOKEN_FILE": str(secret)}
    config = parse_config("w.yaml", CONFIG.format(tmp=tmp_path), env)
    assert config.notifiers[0].urls == ("tgram://111:fromenv/-100",)


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_an_unreadable_file_is_a_clear_error(tmp_path: Path, kind: str) -> None:
    secret = tmp_path / "nope" if kind == "missing" else tmp_path
    with pytest.raises(ConfigError) as err:
        parse_config("w.yaml", CONFIG.format(tmp=tmp_path), {"TG_TOKEN_FILE": str(secret)})
    (problem,) = err.value.problems
    assert problem.line == 3 and problem.path == "notifiers.desk[0]"
    assert "TG_TOKEN is unset" in problem.message
    assert "$TG_TOKEN_FILE names '" in problem.message  # the path (long ones are shortened)
    assert "which cannot be read: " in problem.message
    assert ("No such file" if kind == "missing" else "Is a directory") in problem.message


def test_neither_set_names_both_ways(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("w.yaml", CONFIG.format(tmp=tmp_path), {})
    assert "set TG_TOKEN_FILE to a file" in err.value.problems[0].message


def test_check_says_which_source_was_used_masked(tmp_path: Path) -> None:
    secret = tmp_path / "tg_token"
    secret.write_text(TOKEN + "\n", encoding="utf-8")
    config = write_config(tmp_path)
    done = run_watcher("check", "-c", str(config), env={"TG_TOKEN_FILE": str(secret)})
    assert done.returncode == 0, done.stderr
    assert f"${{TG_TOKEN}} from $TG_TOKEN_FILE ({secret}): **** ({len(TOKEN)} chars)" in done.stdout
    assert TOKEN not in done.stdout + done.stderr
    assert "AAHsecret" not in done.stdout + done.stderr

    done = run_watcher("check", "-c", str(config), env={"TG_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert "${TG_TOKEN} from $TG_TOKEN: ****" in done.stdout
    assert TOKEN not in done.stdout + done.stderr


def test_check_fails_on_an_unreadable_file(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = run_watcher("check", "-c", str(config), env={"TG_TOKEN_FILE": str(tmp_path / "gone")})
    assert done.returncode == 2
    assert (
        f"{config}:3: notifiers.desk[0]: TG_TOKEN is unset and $TG_TOKEN_FILE names" in done.stderr
    )
    assert "No such file or directory" in done.stderr
