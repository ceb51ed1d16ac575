"""The package's plan holds: every import runs down the pipeline's stages (never back up, never
sideways between peers), no modules import each other in a circle, and the TensorFlow-free
stages never import TensorFlow. Reads the source only."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "graphport"
# Lowest first; a module may import from its own folder and from any earlier line, never from a
# later line or from a peer on its own line.
STAGES = [
    {"errors", "progress", "results"},
    {"outputs"},
    {"graph"},
    {"backend"},
    {"spec"},
    {"passes"},
    {"verify"},
    {"checkpoint"},
    {"export", "convert"},
    {"quant"},
    {"report"},
    {"commands"},
    {"cli", "fuzzing"},
    {"__main__"},
]
TENSORFLOW_FREE = {"errors", "progress", "results", "outputs", "graph", "spec", "report", "cli"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every graphport module (and top-level package) ``path`` imports, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.append((full if full in MODULES else node.module, node.lineno))
    return found


def _component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _rank(component: str) -> int:
    return next(i for i, stage in enumerate(STAGES) if component in stage)


def test_every_module_belongs_to_a_stage() -> None:
    components = {_component(m) for m in MODULES} - {"__init__", "data"}
    assert components <= set().union(*STAGES), components - set().union(*STAGES)


def test_imports_only_run_down() -> None:
    wrong = []
    for module, path in MODULES.items():
        source = _component(module)
        if source == "__init__":
            continue  # the package root maps public names lazily, by string
        for target, line in _imports(path):
            if not target.startswith("graphport") or target == "graphport":
                continue  # `from graphport import __version__`: package metadata
            component = _component(target)
            if component != source and _rank(component) >= _rank(source):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = {m: {t for t, _ in _imports(p) if t in MODULES and t != "graphport"}
             for m, p in MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []


def test_tensorflow_free_stages_never_import_tensorflow() -> None:
    wrong = []
    for module, path in MODULES.items():
        if _component(module) not in TENSORFLOW_FREE:
            continue
        for target, line in _imports(path):
            if target.split(".")[0] == "tensorflow" or target.startswith("graphport.backend"):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule is not vacuous: an import from graph/ up into passes/ is one it reports."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from graphport.passes.pipeline import available\n")
    [(target, _)] = _imports(probe)
    assert _rank(_component(target)) > _rank("graph")
