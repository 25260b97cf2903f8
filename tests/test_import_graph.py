"""The package's imports: no circle, and no layer looks up, not even lazily.

An edge is an import statement anywhere in a module (at the top or inside a
function) to the module it names: ``from pkg import name`` goes to the
submodule ``pkg.name`` when there is one, else to ``pkg``.  Statements under
``if TYPE_CHECKING:`` are not edges (they never run), nor are a package
``__init__``'s imports of its own submodules (its re-exports).

The layers, bottom up (a module may import its own layer and those below):

0. the ground floor: ``validate`` (generic checks), ``_version`` and
   ``faults`` (the fault catalogue: names and where each bug lives; the
   runtime's ``Config`` checks fault names against it, and it imports
   nothing but ``validate``);
1. ``sched`` (the scheduling library: it knows nothing of the model);
2. ``heap``; 3. ``runtime``; 4. ``deopt``; 5. ``gc``; 6. ``check``;
7. the top: every other top-level module (``api``, ``scenarios`` -- whose
   scenarios are ``Config``s, so it sits above the runtime --, ``execute``,
   ``probes``, ``shrink``, ``traces``, ...) and the ``campaign`` and ``cli``
   packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "testbed"

GROUND = ("testbed.validate", "testbed._version", "testbed.faults")
LAYERS = ("sched", "heap", "runtime", "deopt", "gc", "check")
TOP = len(LAYERS) + 1


def modules(root: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Every module of the package by dotted name: (file, is a package ``__init__``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, outside ``if TYPE_CHECKING:`` blocks (their ``else`` counts)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending = list(ast.iter_child_nodes(tree))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _type_checking(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _targets(node: ast.Import | ast.ImportFrom, package: str, known: dict[str, tuple[Path, bool]]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        parts = package.split(".")
        base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
    return {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (see the module docstring for what counts)."""
    known = modules(root)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in known.items():
        package = name if is_package else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text())):
            for target in _targets(node, package, known):
                while target and target not in known:  # an attribute of a module: the module
                    target = target.rpartition(".")[0]
                if not target or target == name or (is_package and target.startswith(f"{name}.")):
                    continue
                edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def layer(module: str) -> int:
    """0 the ground floor, 1 sched ... 6 check, 7 the top (api, cli, campaign and the other top-level modules)."""
    if module in GROUND:
        return 0
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1]) + 1
    return TOP


def upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"
        for source, targets in graph.items()
        for target in targets
        if layer(target) > layer(source)
    )


def test_the_package_has_no_import_circle() -> None:
    assert cycles(import_graph()) == []


def test_no_layer_imports_a_layer_above_it() -> None:
    assert upward(import_graph()) == []


def test_the_scheduling_library_imports_nothing_of_the_model() -> None:
    graph = import_graph()
    outside = {t for s, ts in graph.items() if s.startswith("testbed.sched") for t in ts}
    assert outside - {m for m in graph if m.startswith("testbed.sched")} <= {"testbed._version"}


def test_every_layer_is_known() -> None:
    top_packages = {name.split(".")[1] for name in modules() if name.count(".") >= 1 and modules()[name][1]}
    assert top_packages - set(LAYERS) <= {"campaign", "cli"}, "a new package needs its place in LAYERS"


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / "testbed" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "testbed"


def test_a_lazy_import_is_an_edge_and_a_type_checking_one_is_not(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "__init__.py": "from testbed.a import f\n",
            "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from testbed.b import g\n",
            "b.py": "def g():\n    from testbed import a\n    return a\n",
        },
    )
    graph = import_graph(root)
    assert graph == {"testbed": set(), "testbed.a": set(), "testbed.b": {"testbed.a"}}
    assert cycles(graph) == []


def test_a_circle_through_a_function_body_is_found(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "import testbed.b\n",
            "b.py": "def f():\n    from testbed.sched.x import y\n",
            "sched/__init__.py": "from .x import y\n",
            "sched/x.py": "def y():\n    from testbed.a import z\n",
        },
    )
    graph = import_graph(root)
    assert cycles(graph) == [["testbed.a", "testbed.b", "testbed.sched.x"]]
    assert upward(graph) == ["testbed.sched.x (layer 1) imports testbed.a (layer 7)"]


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("testbed.validate", 0),
        ("testbed.faults", 0),
        ("testbed.sched._trace", 1),
        ("testbed.check", 6),
        ("testbed.scenarios", TOP),
        ("testbed.cli.stress", TOP),
        ("testbed.campaign.driver", TOP),
    ],
)
def test_layer_of(module: str, expected: int) -> None:
    assert layer(module) == expected
