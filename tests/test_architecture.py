"""The pure stages stay pure: no network, database, apprise, scheduler, clock or environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PURE = [
    "rules",
    "ingest/parse.py",
    "ingest/dedup.py",
    "ingest/extract.py",
    "ingest/prepare.py",
    "neardup.py",
    "model.py",
    "daemon/policy.py",
    "daemon/health.py",
    "notify/templates.py",
    "notify/policy.py",
    "config/opml.py",
]
FORBIDDEN_IMPORTS = (
    "aiohttp",
    "httpx",
    "requests",
    "sqlalchemy",
    "sqlmodel",
    "apprise",
    "apscheduler.schedulers",
    "apscheduler.jobstores",
    "watcher.store",
    "watcher.ingest.fetch",
    "watcher.daemon.scheduler",
    "watcher.pipeline",
    "watcher.notify.sender",
    "os",
    "time",
    "socket",
)
FORBIDDEN_CALLS = ("now", "utcnow", "today", "getenv")  # time.time() needs `import time`


def modules() -> list[Path]:
    out: list[Path] = []
    for entry in PURE:
        path = ROOT / "watcher" / entry
        out.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return out


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IMPORTS), (
                f"{path.name} imports {name}"
            )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{path.name} calls .{node.func.attr}()"
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            raise AssertionError(f"{path.name} reads the environment")
