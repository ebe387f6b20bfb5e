"""The import graph of the package: no cycles, and every layer imports only the layers below.

Every import counts, at the top of a module, inside a function or under TYPE_CHECKING: an
import hidden in a function still ties the two modules together.

    cli -> (whatif | pipeline | serve) -> actions -> engine -> ruleset -> core
                                  store beside them, imported by the job and the what-if
    plugins -> the public `tiers` API and tiers.core only
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tiers"

# layer -> the layers (besides itself) its modules may import
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "ruleset": {"core"},
    "engine": {"core", "ruleset"},
    "store": {"core"},
    "actions": {"core", "ruleset", "engine", "store"},
    "pipeline": {"core", "ruleset", "engine", "actions", "store"},
    "whatif": {"core", "ruleset", "engine", "actions", "store"},
    "report": {"core", "ruleset", "engine", "actions", "store", "whatif"},
    "serve": {"core", "ruleset", "engine", "actions", "store", "whatif", "report"},
    "cli": {"core", "ruleset", "engine", "actions", "store", "whatif", "report", "serve",
            "pipeline", "top"},
    "testing": {"core", "ruleset", "engine", "actions", "store", "pipeline", "plugins", "top"},
    "top": {"core", "engine", "actions", "ruleset", "pipeline", "moved"},
    "__main__": {"cli"},
    "moved": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every tiers module ``path`` imports, resolved to module names that exist."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "tiers")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "tiers":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m in MODULES}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "top"
    return parts[1]


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if nxt == node:
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_core_imports_nothing_else_of_tiers() -> None:
    wrong = {m: sorted(i for i in GRAPH[m] if not i.startswith("tiers.core"))
             for m in GRAPH if m.startswith("tiers.core")}
    assert not {m: i for m, i in wrong.items() if i}


def test_built_in_plugins_use_the_public_api_only() -> None:
    wrong = {}
    for m in GRAPH:
        if not m.startswith("tiers.plugins."):
            continue
        own = ".".join(m.split(".")[:3])  # tiers.plugins.sources
        bad = [i for i in GRAPH[m]
               if i != "tiers" and not i.startswith("tiers.core") and not i.startswith(own)]
        if bad:
            wrong[m] = bad
    assert not wrong


def test_layers_import_downwards_only() -> None:
    wrong = {}
    for m, targets in GRAPH.items():
        own = layer(m)
        if own == "plugins":
            continue  # checked above
        allowed = ALLOWED[own] | {own}
        bad = sorted(t for t in targets if layer(t) not in allowed)
        if bad:
            wrong[m] = bad
    assert not wrong


def test_the_graph_is_read() -> None:
    # the checks above are only as good as the graph: known edges must be in it
    assert "tiers.core.errors" in GRAPH["tiers.ruleset.loader"]
    assert "tiers.engine.evaluate" in GRAPH["tiers.engine.result"]
    assert len(MODULES) > 80
