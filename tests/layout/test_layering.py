"""The import graph of ARCHITECTURE.md: who may import whom, and no cycle anywhere.

Every import counts, at module level, inside functions and under TYPE_CHECKING alike. (This
module has a folder of its own: one directly in tests/ would put tests/ on the import path,
where tests/standins/ and the like stand in for the real packages in spawned interpreters.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("uis_compiler", "api", "runner", "frontend", "headwater", "migrations", "standins")
#: What each package (or subpackage) may import of ours; the longest matching prefix decides.
ALLOWED: dict[str, tuple[str, ...]] = {
    "uis_compiler": ("uis_compiler",),
    "standins": ("standins",),
    "frontend": ("frontend",),
    # api.db runs the migrations (and lists their files).
    "api": ("api", "uis_compiler", "migrations"),
    # Loaded by spark-submit and unpickled on executors: no ORM, no control plane.
    "runner.ingest": ("runner.ingest", "runner.config", "runner.objectstore", "uis_compiler"),
    "runner": ("runner", "uis_compiler", "api.models"),
    "migrations": ("api.models",),
    "headwater": PACKAGES,
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _ours(name: str) -> str | None:
    """The module of ours that ``name`` is, or is in (a name imported from a package)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> set[str]:
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*prefix, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        else:
            continue
        found |= {ours for name in names if (ours := _ours(name)) is not None}
    found.discard(module)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _rule(module: str) -> tuple[str, ...]:
    matches = [p for p in ALLOWED if module == p or module.startswith(p + ".")]
    return ALLOWED[max(matches, key=len)]


def _within(target: str, allowed: tuple[str, ...]) -> bool:
    return any(target == a or target.startswith(a + ".") for a in allowed)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layers(module: str) -> None:
    allowed = _rule(module)
    wrong = sorted(target for target in GRAPH[module] if not _within(target, allowed))
    assert wrong == [], f"{module} may import only {allowed}"


def test_there_is_no_import_cycle() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                cycles.append(sorted(members))

    for node in GRAPH:
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_graph_is_read() -> None:
    # A broken walk would find nothing and pass the tests above.
    assert "uis_compiler" in GRAPH["api.services.specs"]
    assert "runner.ingest.job" in GRAPH["runner.control.inprocess"]
