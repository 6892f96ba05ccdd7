"""The package's folders are its layers, and imports run one way: down.

Each module is read with :mod:`ast` (nothing is imported). A module of a layer may import from
its own layer and the layers below it; ``promptrail.exceptions`` and ``promptrail._version`` are
leaves every layer may use. Imports under ``if TYPE_CHECKING:`` are annotations only and are not
arrows. A function-level import of another promptrail module is allowed only when that module
pulls in an optional dependency (opentelemetry, httpx2, the server's extras): laziness, not a cycle
dodge.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import promptrail

PACKAGE = Path(promptrail.__file__).parent

LAYERS = (
    "_runtime",
    "_record",
    "providers",
    "_tracing",
    "integrations",
    "stores",
    "exporters",
    "pipeline",
    "otel",
    "server",
    "cli",
)
"""Bottom to top."""

LEAVES = frozenset({"promptrail.exceptions", "promptrail._version"})
"""Modules without promptrail imports, usable from any layer."""

CORE_DEPENDENCIES = frozenset({"wrapt", "pydantic", "pydantic_core", "typing_extensions"})
"""Third-party packages promptrail always imports; anything else is optional and lazy."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The index of the layer ``module`` is in, or None for the face and the leaves."""
    parts = module.split(".")
    if len(parts) < 2 or module in LEAVES:
        return None
    try:
        return LAYERS.index(parts[1])
    except ValueError:
        return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, top: bool = True) -> Iterator[tuple[str, int, bool]]:
    """Yield (imported module, line, at top level) for every import outside TYPE_CHECKING."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (i for n in node.orelse for i in _imports(n, module, top))
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                if MODULES[module].name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield (candidate if candidate in MODULES else base), node.lineno, top
        else:
            nested = top and not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            yield from _imports(node, module, nested)


IMPORTS = {
    name: list(_imports(ast.parse(path.read_text(encoding="utf-8")), name))
    for name, path in MODULES.items()
}


def _optional(module: str, seen: frozenset[str] = frozenset()) -> bool:
    """Whether importing ``module`` imports an optional third-party package."""
    for target, _, top in IMPORTS[module]:
        if not top:
            continue
        root = target.split(".")[0]
        if target in MODULES:
            if target not in seen and _optional(target, seen | {module}):
                return True
        elif root not in {"promptrail", *sys.stdlib_module_names, *CORE_DEPENDENCIES}:
            return True
    return False


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the import cycles a depth-first search of ``graph`` meets."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def _above(target: str, own: int) -> bool:
    layer = layer_of(target)
    return layer is None or layer > own


class TestLayering:
    """Imports run down the layers."""

    def test_every_folder_is_a_known_layer(self) -> None:
        """A new folder is placed in the order before it can hold code."""
        folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
        assert folders <= set(LAYERS)
        assert {"_runtime", "_tracing", "cli"} <= folders  # the search looks where the code is

    @pytest.mark.parametrize("module", sorted(MODULES))
    def test_no_import_runs_up(self, module: str) -> None:
        """A module imports nothing from a layer above its own (nor the package's face)."""
        own = layer_of(module)
        if own is None:
            return
        upward = [
            f"line {line}: {target}"
            for target, line, _ in IMPORTS[module]
            if target.split(".")[0] == "promptrail" and target not in LEAVES and _above(target, own)
        ]
        assert upward == []

    @pytest.mark.parametrize("module", sorted(MODULES))
    def test_function_level_imports_are_for_optional_dependencies(self, module: str) -> None:
        """A promptrail module imported inside a function pulls in an optional dependency."""
        dodges = [
            f"line {line}: {target}"
            for target, line, top in IMPORTS[module]
            if not top and target in MODULES and target != module and not _optional(target)
        ]
        assert dodges == []

    def test_no_import_cycle(self) -> None:
        """Top-level imports between promptrail modules form no cycle, within a layer or across."""
        graph = {
            name: {t for t, _, top in found if top and t in MODULES and t != name}
            for name, found in IMPORTS.items()
        }
        assert find_cycles(graph) == []

    def test_the_cycle_check_finds_a_cycle(self) -> None:
        """The cycle search reports a cycle through three modules (guards the guard)."""
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
        assert find_cycles(graph) == [["a", "b", "c", "a"]]

    def test_the_check_sees_an_upward_import(self) -> None:
        """The reader resolves imports well enough to catch a violation (guards the guard)."""
        tree = ast.parse("def f():\n    from promptrail.cli._main import main\n")
        found = list(_imports(tree, "promptrail._runtime.state"))
        assert found == [("promptrail.cli._main", 2, False)]
        assert _above("promptrail.cli._main", LAYERS.index("_runtime"))
        assert not _above("promptrail._runtime.ids", LAYERS.index("_runtime"))
