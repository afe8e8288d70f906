"""The layers of the package, checked from its source: every module imports only modules of its
own layer or of the layers below, no modules import each other in a circle, and no module
imports a private name (``_x``) of another.

The layers, lowest first (``DESIGN.md``, "Layers"; a folder each):

    0  errors          the one exception base; imports nothing of pythagoras
    1  storage         byte stores, opened by URL through pluggy (hookspecs, plugins), the
                       default location, names no other process makes
    2  identity        a function's identity and a call's address; depends only on errors
    3  records         frames and values, results, function records, tracebacks' origins.
                       Above identity, where DESIGN.md lists it below: a result is kept under
                       its call's address, and identity needs nothing of records
    4  swarm           the protocol's records and transitions, the peer, its workers and
                       engines, file watching, events, progress bars driven by those events
    5  executor        the swarm as a concurrent.futures.Executor
    6  memory          joblib's Memory API over the records  } siblings: neither imports the
    6  joblib_backend  joblib's backend over the executor    } other
    7  tutorial        the cloud and its pure functions, on the executor
    8  cli             the command line; its demo runs the tutorial
    9  the package     ``pythagoras/__init__.py`` and ``__main__.py``: re-exports, ``-m``

Imports under ``if TYPE_CHECKING:`` are annotations only and are not checked. Imports inside
functions are checked for their layer as those at the top of a module are: an upward import
hidden in a function is one all the same. Circles are checked among the imports at the top of
modules, those that run when a module is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pythagoras"

LAYERS = {"errors": 0, "storage": 1, "identity": 2, "records": 3, "swarm": 4, "executor": 5,
          "memory": 6, "joblib_backend": 6, "tutorial": 7, "cli": 8, "__main__": 9, "": 9}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (for ``from m import name``: m.name if that is a module)
    names: tuple[str, ...]  # the names taken from target by ``from ... import``
    line: int
    top: bool  # at the top of the module, not in a function


def module_name(path: Path) -> str:
    parts = ("pythagoras", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> tuple[int, str]:
    """The module's layer and the folder (or root module) that makes it."""
    top = module.split(".")[1] if "." in module else ""
    return LAYERS[top], top


def _annotations_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement but those under ``if TYPE_CHECKING:``, and whether it is at the
    top of the module (not in a function)."""
    stack: list[tuple[ast.AST, bool]] = [(tree, True)]
    while stack:
        node, top = stack.pop()
        if isinstance(node, ast.If) and _annotations_only(node):
            stack.extend((n, top) for n in node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, top
        inner = top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        stack.extend((n, inner) for n in ast.iter_child_nodes(node))


def imports_of(module: str) -> Iterator[Import]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, top in _statements(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pythagoras":
                    yield Import(module, alias.name, (), node.lineno, top)
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        if source.split(".")[0] != "pythagoras":
            continue
        names = tuple(alias.name for alias in node.names)
        submodules = [n for n in names if f"{source}.{n}" in MODULES]
        for name in submodules:
            yield Import(module, f"{source}.{name}", (), node.lineno, top)
        rest = tuple(n for n in names if n not in submodules)
        if rest:
            yield Import(module, source, rest, node.lineno, top)


IMPORTS = [i for module in MODULES for i in imports_of(module)]


def test_the_modules_are_found() -> None:
    assert {"pythagoras.errors", "pythagoras.storage.base", "pythagoras.swarm.peer",
            "pythagoras.cli.commands"} <= set(MODULES)
    assert all(layer_of(m) for m in MODULES)  # every folder has its layer


def test_no_module_imports_a_higher_layer() -> None:
    wrong = []
    for i in IMPORTS:
        (own, folder), (theirs, other) = layer_of(i.module), layer_of(i.target)
        if theirs > own or (theirs == own and folder != other):
            wrong.append(f"{MODULES[i.module].relative_to(PACKAGE.parent)}:{i.line}: {i.module} "
                         f"(layer {own}) imports {i.target} (layer {theirs})")
    assert not wrong, "\n".join(wrong)


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in IMPORTS:
        if i.top and i.target in graph and i.target != i.module:
            graph[i.module].add(i.target)
    circles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert not circles, "\n".join(" <-> ".join(sorted(c)) for c in circles)


def test_no_private_name_is_imported_from_another_module() -> None:
    wrong = [f"{MODULES[i.module].relative_to(PACKAGE.parent)}:{i.line}: {i.module} imports "
             f"{name} from {i.target}"
             for i in IMPORTS for name in i.names
             if name.startswith("_") and not name.startswith("__")]
    assert not wrong, "\n".join(wrong)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    found.append(component)
    return found
