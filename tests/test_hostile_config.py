"""`watcher check` on hostile configs: no secret reaches its output (a `${VAR}` value, a Telegram
token, a mailto password), and a YAML alias bomb is refused in bounded memory."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_watcher
from tests.hostile import run_measured

TOKEN = "123456789:AAEexampleTOKENabcdefghijklmnop"
PASSWORD = "S3cretPassw0rd"
VALUE = "hunter2hunter2"

LEAKY = f"""database: sqlite:///{{db}}
polling: {{{{interval: "${{{{SECRET_INTERVAL}}}}"}}}}
feeds:
  - {{{{name: wire, url: "ftp://user:{PASSWORD}@example.org/feed"}}}}
notifiers:
  tg: {{{{urls: [["tgram://{TOKEN}/-100123"]]}}}}
  mail: ["mailto://user:{PASSWORD}@smtp.example.org?to=desk@example.org&port=${{{{SECRET_INTERVAL}}}}"]
rules:
  - {{{{name: r, any: [x], notify: [tg, mail, nosuch]}}}}
"""


def test_check_masks_every_secret_a_problem_could_quote(tmp_path: Path) -> None:
    cfg = tmp_path / "w.yaml"
    cfg.write_text(LEAKY.format(db=tmp_path / "w.db"), encoding="utf-8")
    result = run_watcher("check", "-c", str(cfg), env={"SECRET_INTERVAL": VALUE})
    assert result.returncode == 2, result.stderr
    out = result.stdout + result.stderr
    assert "polling.interval" in out and "feeds[0].url" in out and "notifiers.tg" in out
    for secret in (TOKEN, PASSWORD, VALUE, "AAEexampleTOKEN"):
        assert secret not in out, out


def alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [" + ",".join(['"lol"'] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join([*lines, f"feeds: *a{levels - 1}", ""])


def test_a_yaml_alias_bomb_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    cfg = tmp_path / "w.yaml"
    cfg.write_text(alias_bomb(), encoding="utf-8")
    assert len(cfg.read_bytes()) < 500
    result = run_measured("check", "-c", str(cfg), timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{cfg}:1: YAML aliases expand to more than 100000 values" in result.stderr
    assert result.peak_mb < 300, result.peak_mb  # 1.25 GB before the bound
    assert result.cpu_seconds < 10, result.cpu_seconds  # 11.8 s before


def test_a_few_aliases_are_still_fine(tmp_path: Path) -> None:
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"""database: sqlite:///{tmp_path / "w.db"}
x-common: &common {{extract: false, tags: [agency]}}
feeds:
  - {{name: a, url: "http://127.0.0.1:9/a", <<: *common}}
""",
        encoding="utf-8",
    )
    result = run_watcher("check", "-c", str(cfg))
    assert "aliases" not in result.stderr
