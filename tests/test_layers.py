"""The library's layering holds: no import cycle inside zen_vl (function-level imports included), and
the stages after training read artifacts through zen_vl.artifacts, never through zen_vl.train."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every zen_vl module this file imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("zen_vl")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zen_vl"):
            found.add(node.module)
            # `from zen_vl.evaluate import bfcl` imports the submodule zen_vl.evaluate.bfcl
            found |= {
                f"{node.module}.{a.name}"
                for a in node.names
                if (SRC / node.module.replace(".", "/") / f"{a.name}.py").is_file()
            }
    return found


GRAPH = {module_name(p): imports(p) for p in sorted((SRC / "zen_vl").rglob("*.py"))}


def _package_of(module: str) -> set[str]:
    """A module's import also runs its packages' __init__ (empty here); edges go to modules only."""
    return {module} if module in GRAPH else set()


def test_the_import_graph_has_no_cycle():
    edges = {m: {t for i in deps for t in _package_of(i) if t != m} for m, deps in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("package", ["evaluate", "export", "hub", "paper"])
def test_later_stages_import_nothing_from_train(package):
    offenders = {
        m: sorted(d for d in deps if d == "zen_vl.train" or d.startswith("zen_vl.train."))
        for m, deps in GRAPH.items()
        if m.startswith(f"zen_vl.{package}")
    }
    assert not {m: d for m, d in offenders.items() if d}


def test_chat_sits_below_data():
    assert not any(d.startswith("zen_vl.data") for d in GRAPH["zen_vl.chat"])
    assert not any(d.startswith("zen_vl.data") for d in GRAPH["zen_vl.collate"])


def test_the_checker_sees_a_cycle(tmp_path):
    """The cycle check itself can fail: a planted a <-> b cycle is found."""
    GRAPH["zen_vl._planted_a"] = {"zen_vl._planted_b"}
    GRAPH["zen_vl._planted_b"] = {"zen_vl._planted_a"}
    try:
        with pytest.raises(pytest.fail.Exception, match="import cycle"):
            test_the_import_graph_has_no_cycle()
    finally:
        del GRAPH["zen_vl._planted_a"], GRAPH["zen_vl._planted_b"]
