"""Read-only commands stay light: they open the database and print, so they must not load the
ingest stack (trafilatura, feedparser, numpy, language detection) or the HTTP client.

Measured with `python -X importtime`, exactly as a user would run the command, so an import
added anywhere on the path (a re-export in a package's __init__, say) fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_watcher

HEAVY = (
    "trafilatura",
    "feedparser",
    "numpy",
    "aiohttp",
    "pycld2",
    "py3langid",
    "apscheduler.schedulers",
)

READ_ONLY = [
    ["check"],
    ["matches"],
    ["matches", "--json", "--since", "2h"],
    ["search", "karabakh"],
    ["feeds"],
    ["deliveries"],
    ["db", "stats"],
    ["config", "schema"],
]


def imported(stderr: str) -> set[str]:
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_command_loads_no_ingest_or_http(command: list[str], tmp_path: Path) -> None:
    config = tmp_path / "watcher.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path}/w.db\nfeeds:\n  - {{name: wire, url: 'https://example.org/rss'}}\n",
        encoding="utf-8",
    )
    done = run_watcher(*command, "-c", str(config), env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    names = imported(done.stderr)
    assert "watcher.cli" in names  # the measurement itself works
    loaded = sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))
    assert not loaded, f"`watcher {' '.join(command)}` imports {loaded}"


def test_the_daemon_does_load_them(tmp_path: Path) -> None:
    """The check above can fail: `explain` needs extraction, and its imports show up."""
    page = tmp_path / "page.html"
    page.write_text("<html><body><article><p>Karabakh talks.</p></article></body></html>")
    config = tmp_path / "watcher.yaml"
    config.write_text(f"database: sqlite:///{tmp_path}/w.db\n", encoding="utf-8")
    done = run_watcher(
        "explain", str(page), "-c", str(config), env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trafilatura" in imported(done.stderr)
