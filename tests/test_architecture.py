"""The pure stages stay pure: no network, database, apprise, scheduler, clock or environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PURE = [
    "rules",
    "ingest/parse.py",
    "ingest/charset.py",
    "ingest/sanitize.py",
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


# -- layering: the module-level import graph --------------------------------------------------

PACKAGE = ROOT / "watcher"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_imports(path: Path) -> set[str]:
    """watcher.* modules imported when `path` is imported: module-level statements, including
    those under if/try at module level, but not inside functions or `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                out.add(base)
                out.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
            elif isinstance(node, ast.If):
                test = node.test
                name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
                if name != "TYPE_CHECKING":
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody):
                    visit(block)
                for handler in node.handlers:
                    visit(handler.body)

    visit(tree.body)
    return {name for name in out if name == "watcher" or name.startswith("watcher.")}


def _graph() -> dict[str, set[str]]:
    files = {
        _module_name(p): p
        for p in PACKAGE.rglob("*.py")
        if "migrations" not in p.relative_to(PACKAGE).parts
    }
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        # only real modules count: `from watcher.store import Store` names a class, not a module
        graph[name] = {m for m in _top_level_imports(path) if m in files and m != name}
    # importing a.b.c runs a/__init__ and a/b/__init__ first
    for name in list(graph):
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in graph and parent != name:
                graph[name].add(parent)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, ignoring the edge from a module to the packages that contain it
    (a package's __init__ importing its own submodule is the normal re-export)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def edges(name: str) -> set[str]:
        return {m for m in graph[name] if not name.startswith(m + ".")}

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for nxt in sorted(edges(name)):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    assert _cycle({"p": {"p.m"}, "p.m": {"p"}}) is None  # a package re-exporting its module


def test_module_level_imports_skip_functions_and_type_checking() -> None:
    probe = ROOT / "watcher" / "store" / "migrate.py"
    found = _top_level_imports(probe)
    assert "watcher.errors" in found
    assert "watcher.store.db" not in found  # under `if TYPE_CHECKING:` only


STORE_MUST_NOT_IMPORT = (
    "watcher.ingest",
    "watcher.notify",
    "watcher.daemon",
    "watcher.pipeline",
    "watcher.cli",
    "watcher.review",
)


def _all_imports(path: Path) -> set[str]:
    """Every watcher.* import anywhere in the file, in functions too (a lazy import is still a
    dependency)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.add(node.module or "")
    return {n for n in out if n == "watcher" or n.startswith("watcher.")}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize(
    "path",
    sorted((PACKAGE / "store").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_store_imports_no_upper_layer(path: Path) -> None:
    bad = {n for n in _all_imports(path) if _within(n, STORE_MUST_NOT_IMPORT)}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "rules").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_rules_import_only_rules(path: Path) -> None:
    """The matcher is a library of its own. Its one outside name is the error root it raises
    under (house rule: one root), and watcher.errors imports nothing of watcher's."""
    bad = {n for n in _all_imports(path) if not _within(n, ("watcher.rules", "watcher.errors"))}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative_out = [
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 1
    ]
    assert not bad and not relative_out, f"{path.name} imports {sorted(bad) or relative_out}"


@pytest.mark.parametrize(
    "path",
    sorted((PACKAGE / "migrations" / "versions").glob("*.py")),
    ids=lambda p: p.name,
)
def test_migrations_are_frozen(path: Path) -> None:
    """A migration holds its own code: one importing live watcher code would change when that
    code does, and an old database would then be upgraded differently than it once was."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    bad = {n for n in names if n == "watcher" or n.startswith(("watcher.", "."))}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_error_root_is_a_leaf() -> None:
    assert _all_imports(PACKAGE / "errors.py") == set()
