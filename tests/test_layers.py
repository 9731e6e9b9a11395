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
    {"_protocol", "_converter", "_wire", "_idset", "_args", "_files", "_cursor", "_nofollow"},
    {"_timekeeper", "_pacer"},
    {"_session"},
    {"_retry"},
    {"_fanout", "_paging", "_pdfs", "_listing"},
    {"_client"},
    {
        "_store",
        "_store_db",
        "_store_schema",
        "_sync",
        "_sync_steps",
        "_lock",
        "_group_writer",
        "_records",
    },
    {"__init__"},  # the public names, for the application above
    {"testing"},  # the fake server, which the CLI's demo and fake-server run
    {"cli", "__main__"},  # the application, the top layer: the cli package (below)
]
LAYER_OF = {name: number for number, layer in enumerate(LAYERS) for name in layer}
# Inside the cli package (``("cli", name)`` in the graph), bottom to top.
CLI_LAYERS: list[set[str]] = [
    {"_values"},  # the options' value types
    {"_parser", "_progress", "_aging"},  # the options; the progress bar; aging arithmetic
    {"_api", "_export"},  # the client from the options; the export driver
    {"_output"},  # tables for people, JSON and CSV for programs
    {"_reading", "_summary", "_fake", "_store_commands"},  # the commands
    {"_main"},  # one command run, its exit status
    {"__init__"},  # the entry point, which checks that the [cli] extra is there
]
CLI_LAYER_OF = {name: number for number, layer in enumerate(CLI_LAYERS) for name in layer}
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


def test_every_module_of_the_cli_package_has_a_layer_of_its_own() -> None:
    unplaced = [m for m in modules() if m[0] == "cli" and m[-1] not in CLI_LAYER_OF]
    assert unplaced == []
    assert all(len(m) == 2 for m in modules() if m[0] == "cli")  # no deeper packages


@pytest.mark.parametrize(("source", "target"), [e for e in edges() if e[0][0] == e[1][0] == "cli"])
def test_imports_in_the_cli_package_run_down_its_layers(
    source: tuple[str, ...], target: tuple[str, ...]
) -> None:
    assert CLI_LAYER_OF[target[1]] <= CLI_LAYER_OF[source[1]], f"{source} imports {target}"


def rich_importers() -> set[tuple[str, ...]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(name.split(".")[0] == "rich" for name in names):
                found.add(path.relative_to(PACKAGE).with_suffix("").parts)
    return found


def test_only_the_cli_package_imports_rich() -> None:
    importers = rich_importers()
    assert importers  # the test sees the imports it looks for
    assert {module[0] for module in importers} == {"cli"}


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
