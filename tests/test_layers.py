"""Imports run down the layers of the package, never back up, and never in a circle.

The layers, bottom to top, as the README's "How the code is laid out" lists them; within one
layer a module may import another as long as no cycle forms.
"""

from __future__ import annotations

import ast
from importlib.resources import files
from pathlib import Path

import pytest

PACKAGE = Path(str(files("invoice_async")))

LAYERS: list[set[str]] = [
    {"errors", "_logging", "_models", "_stats"},
    {"_protocol", "_converter", "_args", "_files", "_cursor"},
    {"_timekeeper", "_pacer"},
    {"_session"},
    {"_retry"},
    {"_fanout", "_paging", "_pdfs"},
    {"_client"},
    {"_store", "_store_db", "_store_schema", "_sync", "_sync_steps", "_lock", "_records"},
    {"__init__"},  # the public names, for the application above
    {"cli", "__main__", "testing"},  # the cli package: export, sync, progress
]
LAYER_OF = {name: number for number, layer in enumerate(LAYERS) for name in layer}
# testing/ may use the client's errors only; the fake-clock helper drives a client.
TESTING_MAY_IMPORT = {"errors"}
DRIVES_A_CLIENT = {"_clock"}


def internal_imports(path: Path, package: tuple[str, ...]) -> set[tuple[str, ...]]:
    """The package modules a file imports, as dotted paths from the package root."""
    found: set[tuple[str, ...]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base: tuple[str, ...]
            if node.level == 0:
                parts = tuple((node.module or "").split("."))
                if parts[0] != "invoice_async":
                    continue
                base, rest = (), parts[1:]
            else:
                base, rest = (
                    package[: len(package) - node.level + 1],
                    tuple((node.module or "").split(".") if node.module else ()),
                )
            target = (*base, *rest)
            if target:
                found.add(target)
            else:  # "from . import x, y": each name is a module
                found |= {(*base, alias.name) for alias in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = tuple(alias.name.split("."))
                if parts[0] == "invoice_async" and len(parts) > 1:
                    found.add(parts[1:])
    return found


def modules() -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("").parts
        package = relative[:-1]  # the package a relative import starts from
        graph[relative] = internal_imports(path, package)
    return graph


def normalise(
    target: tuple[str, ...], graph: dict[tuple[str, ...], set[tuple[str, ...]]]
) -> tuple[str, ...]:
    """A target names a module, a package (its __init__), or a name inside a module."""
    for cut in range(len(target), 0, -1):
        head = target[:cut]
        if head in graph:
            return head
        if (*head, "__init__") in graph:
            return (*head, "__init__")
    return ("__init__",)


def edges() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    graph = modules()
    return sorted(
        {
            (source, normalise(target, graph))
            for source, targets in graph.items()
            for target in targets
        }
        - {(source, source) for source in graph}
    )


def test_every_module_of_the_client_has_a_layer() -> None:
    unplaced = [m for m in modules() if m[0] != "testing" and m[0] not in LAYER_OF]
    assert unplaced == []


@pytest.mark.parametrize(("source", "target"), [e for e in edges() if e[0][0] != "testing"])
def test_imports_run_down_the_layers(source: tuple[str, ...], target: tuple[str, ...]) -> None:
    assert LAYER_OF[target[0]] <= LAYER_OF[source[0]], f"{source} imports {target}, a higher layer"


def test_the_fake_server_imports_nothing_of_the_client_but_errors() -> None:
    for source, target in edges():
        if source[0] != "testing" or target[0] == "testing":
            continue
        if source[-1] in DRIVES_A_CLIENT:
            continue
        assert target[0] in TESTING_MAY_IMPORT, f"{source} imports {target}"


def test_no_import_cycle() -> None:
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for source, target in edges():
        graph.setdefault(source, set()).add(target)
    state: dict[tuple[str, ...], int] = {}  # 1: on the path, 2: done

    def visit(node: tuple[str, ...], path: list[tuple[str, ...]]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {[*path, node, nxt]}")
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node, [])
