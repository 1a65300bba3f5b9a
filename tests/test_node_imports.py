"""The graph's nodes share records and helpers through state.py, never through each other."""

import ast
from pathlib import Path

from memento_graph.graph import graph_builder

NODES = Path(__file__).parents[1] / "src" / "memento_graph" / "nodes"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_node_imports_another_node():
    names = set(graph_builder().nodes)
    assert {p.stem for p in NODES.glob("*.py")} >= names  # one file per node
    for name in names:
        others = {f"memento_graph.nodes.{n}" for n in names - {name}}
        assert not imported_modules(NODES / f"{name}.py") & others, name
