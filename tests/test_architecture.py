"""The package's shape: no import cycle between its parts, one definition per shared helper.

import-linter (pyproject.toml, run by scripts/test) checks the layers; this
test counts every import statement, those inside functions included, so an
import tucked into a function to dodge a cycle is caught as the cycle it is.
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kiosk"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str | None:
    """``kiosk.queues.services`` -> ``queues``; ``kiosk`` itself (the app assembly) -> None."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 and pieces[0] == "kiosk" else None


def _imported_modules(path: Path, tree: ast.AST) -> set[str]:
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            # ``from kiosk import cache`` imports the part ``cache``.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "kiosk" or name.startswith("kiosk.")}


def part_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    for path in PACKAGE.rglob("*.py"):
        source = _part(_module_name(path))
        if source is None:
            continue  # kiosk/__init__.py wires every part together: it sits above them all
        for module in _imported_modules(path, ast.parse(path.read_text())):
            target = _part(module)
            if target in parts and target != source:
                graph[source].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm; components of more than one node are cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in list(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycle_joins_two_parts_of_the_package():
    cycles = [sorted(c) for c in strongly_connected(part_graph()) if len(c) > 1]
    assert cycles == [], f"import cycles between parts of kiosk/: {cycles}"


def test_the_cycle_finder_sees_a_cycle_hidden_in_a_function(tmp_path, monkeypatch):
    # The checker itself must fail on what it is meant to catch.
    package = tmp_path / "kiosk"
    (package / "alpha").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "alpha" / "__init__.py").write_text("from kiosk.beta import thing\n")
    (package / "beta.py").write_text("def thing():\n    from kiosk.alpha import other\n")
    monkeypatch.setitem(globals(), "PACKAGE", package)
    assert [sorted(c) for c in strongly_connected(part_graph()) if len(c) > 1] == [["alpha", "beta"]]


@pytest.mark.parametrize("helper", [
    r"def utcnow\(", r"def aware\(", r"def iso\(", r"def current_establishment\(", r"def asset_version\(",
    r"def as_uuid\(", r"re\.compile\(r\"\^\[A-Za-z0-9_-\]\{16,64\}\$\"\)",
])
def test_each_shared_helper_is_defined_once(helper):
    places = [str(path.relative_to(PACKAGE.parent)) for path in PACKAGE.rglob("*.py")
              if re.search(helper, path.read_text())]
    assert len(places) == 1, f"{helper} defined in {places}"
