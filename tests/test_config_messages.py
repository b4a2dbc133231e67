"""Config errors a desk editor can act on: each says what to fix, on the right line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_watcher


def check(tmp_path: Path, data: bytes) -> tuple[int, str]:
    cfg = tmp_path / "watcher.yaml"
    cfg.write_bytes(data)
    done = run_watcher("check", "-c", str(cfg))
    return done.returncode, done.stderr.replace(str(cfg), "FILE")


def test_a_tab_in_indentation_says_use_spaces(tmp_path: Path) -> None:
    code, err = check(tmp_path, b'feeds:\n\t- {name: a, url: "https://example.org/rss"}\n')
    assert code == 2
    assert "FILE:2: YAML syntax error: a tab character; indent with spaces, not tabs" in err
    assert "cannot start any token" not in err


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    code, err = check(tmp_path, b"feeds: []\n# Baku caf\xe9 news\nrules: []\n")
    assert code == 2
    assert "FILE:2: not UTF-8 text (byte 0xe9 at column 11); save the file as UTF-8" in err
    assert "position" not in err


@pytest.mark.parametrize("name", ["Новости-ру", "Ղարաբաղ", "apa.az", "trend_en", "Qarabağ-1"])
def test_names_may_use_letters_of_any_script(tmp_path: Path, name: str) -> None:
    code, err = check(
        tmp_path, f'feeds:\n  - {{name: "{name}", url: "https://example.org/rss"}}\n'.encode()
    )
    assert code == 0, err


@pytest.mark.parametrize("name", ["-apa", "a b", "apa/en", "_x"])
def test_names_that_cannot_be_names(tmp_path: Path, name: str) -> None:
    code, err = check(
        tmp_path, f'feeds:\n  - {{name: "{name}", url: "https://example.org/rss"}}\n'.encode()
    )
    assert code == 2
    assert "is not a valid name; use letters (any script), digits" in err


def test_a_misspelt_apprise_scheme_gets_a_suggestion_and_keeps_its_secret(tmp_path: Path) -> None:
    code, err = check(
        tmp_path,
        b'notifiers:\n  desk: ["tgarm://123456789:AAEsecretTOKEN/-100123"]\n',
    )
    assert code == 2
    assert (
        "FILE:2: notifiers.desk[0]: apprise has no service 'tgarm://'; did you mean tgram://?"
        in err
    )
    assert "AAEsecretTOKEN" not in err


def test_an_unknown_key_in_a_rule_does_not_hide_its_query_error(tmp_path: Path) -> None:
    code, err = check(
        tmp_path,
        b"rules:\n  - name: kb\n    query: 'karabakh AND (talks'\n    notfy: [desk]\n",
    )
    assert code == 2
    assert "FILE:3: rules[0].query: expected ')'" in err
    assert "FILE:4: rules[0].notfy: unknown key; did you mean 'notify'?" in err
