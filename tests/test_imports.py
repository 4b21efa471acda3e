"""sdp/ depends one way: no module imports (directly or through others) a module that imports it back.

Reads every module's imports from its source (top-level and lazy ones inside functions alike), so a
cycle hidden behind a function-level import is found too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sdp"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target in modules and target != name and not (name.startswith(target + ".")):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_sdp():
    graph = import_graph()
    assert "sdp.recipe" in graph and graph["sdp.recipe"]  # the graph was read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_source_file_over_about_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in [*PACKAGE.rglob("*.py"), *(ROOT / "cli").rglob("*.py")]
            if (n := len(p.read_text().splitlines())) > 420}
    assert not long, long


def test_pruning_and_models_are_leaves():
    """docs/architecture.md "Project layout": pruning/ and models/ import nothing else of sdp's but the shared file helpers
    (sdp.io), so a user can take the masks or the presets into another training loop."""
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith(("sdp.pruning", "sdp.models")):
            own = name.split(".")[1]
            foreign = {t for t in targets if not t.startswith(f"sdp.{own}") and t not in ("sdp", "sdp.io")}
            assert not foreign, f"{name} imports {sorted(foreign)}"
