"""Imports go one way, in sdp/, scripts/ and cli/ (docs/architecture.md "Project layout").

Every module's imports are read from its source (top-level and lazy ones inside functions alike), so an import
hidden behind a function-level import counts too. Modules are named from the repository root (sdp.data.tasks,
cli.run, scripts.bench.common); scripts/ is not a package, so a bare ``import gridrun`` from a file beside
scripts/gridrun.py (its sys.path) is scripts.gridrun. The rules, checked over that graph:

1. **No import cycle**: no module imports, directly or through others, a module that imports it back.
2. **No import back up**: for every package P (sdp.data, sdp.run, sdp.objectives.distill_terms, scripts.bench, ...,
   nested ones included), no module of P imports a module outside P that imports P back, directly or through
   others. A module of a parent package is thus usable from a subpackage only when it does not depend on that
   subpackage (sdp.io, sdp.errors; sdp.objectives.representations for distill_terms), and two packages never use
   each other. The import that broke it: sdp.data.fingerprint -> sdp.crosslingual -> sdp.data.tasks (the skip's data
   check now lives in sdp.run.same_data).
Importing a package's own ``__init__`` from inside it is not an edge (Python runs it first anyway).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sdp"
TREES = ("sdp", "scripts", "cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files(trees: tuple[str, ...] = TREES) -> dict[str, Path]:
    return {_module_name(p): p for tree in trees for p in (ROOT / tree).rglob("*.py")}


def _resolve(target: str, path: Path, modules: dict[str, Path]) -> str | None:
    if target in modules:
        return target
    beside = path.parent / f"{target}.py"  # a script's sibling, imported by its bare name (scripts/ on sys.path)
    return _module_name(beside) if "." not in target and beside.is_file() else None


def import_graph(trees: tuple[str, ...] = ("sdp",)) -> dict[str, set[str]]:
    """Module -> the modules of ``trees`` it imports (absolute imports; the repository uses no relative ones)."""
    modules = _files(trees)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                found = _resolve(target, path, modules)
                if found is not None and found != name and not name.startswith(found + "."):
                    graph[name].add(found)
    return graph


def packages(graph: dict[str, set[str]]) -> set[str]:
    """Every package (a folder: sdp.data, scripts, scripts.bench) holding a module of the graph, but the trees' roots."""
    found = {m.rpartition(".")[0] for m in graph if "." in m} | {m for m in graph if (ROOT / m.replace(".", "/")).is_dir()}
    return {p for p in found if p and p not in TREES}


def imports_back_up(graph: dict[str, set[str]]) -> list[str]:
    """Rule 2's breaches, as 'module -> target (which imports package P back: ...)'."""
    def inside(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    reach: dict[str, set[str]] = {}
    for start in graph:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        reach[start] = seen
    breaches = []
    for package in sorted(packages(graph)):
        for module in sorted(m for m in graph if inside(m, package)):
            for target in sorted(t for t in graph[module] if not inside(t, package)):
                back = sorted(m for m in reach[target] if inside(m, package))
                if back:
                    breaches.append(f"{module} -> {target} (which imports {package} back: {', '.join(back[:3])})")
    return breaches


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


def test_no_import_cycle_in_sdp_scripts_or_cli():
    graph = import_graph(TREES)
    assert "sdp.recipe" in graph and graph["sdp.recipe"] and graph["scripts.study"]  # the graph was read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_rules_find_what_they_forbid():
    """A toy tree: pkg.sub.a imports pkg.top, which imports pkg.sub.b (back up, no module cycle); pkg.sub.c imports
    the leaf pkg.util (allowed); a bare sibling import in scripts/ resolves beside the file."""
    graph = {"pkg.top": {"pkg.sub.b"}, "pkg.sub.a": {"pkg.top", "pkg.util"}, "pkg.sub.b": set(), "pkg.util": set(),
             "pkg.sub.c": {"pkg.util"}}
    assert find_cycle(graph) is None
    assert imports_back_up(graph) == ["pkg.sub.a -> pkg.top (which imports pkg.sub back: pkg.sub.b)"]
    assert _resolve("gridrun", ROOT / "scripts" / "study.py", _files(("scripts",))) == "scripts.gridrun"


def test_no_import_back_up_in_sdp_scripts_or_cli():
    assert imports_back_up(import_graph(TREES)) == []


def test_no_source_file_over_about_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in [*PACKAGE.rglob("*.py"), *(ROOT / "cli").rglob("*.py")]
            if (n := len(p.read_text().splitlines())) > 420}
    assert not long, long


def test_pruning_and_models_are_leaves():
    """docs/architecture.md "Project layout": pruning/ and models/ import nothing else of sdp's but the shared file helpers
    (sdp.io) and the options convention (sdp.options, standard library only), so a user can take the masks or the presets into another training loop."""
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith(("sdp.pruning", "sdp.models")):
            own = name.split(".")[1]
            foreign = {t for t in targets if not t.startswith(f"sdp.{own}") and t not in ("sdp", "sdp.io", "sdp.options")}
            assert not foreign, f"{name} imports {sorted(foreign)}"
