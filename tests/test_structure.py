"""No function in the public API, the campaign package or the CLI is longer than 60 lines.

A function's length runs from its ``def`` line to its last line (signature,
docstring and body; decorators not counted).  These modules are where a
reader starts, and where code grew long before: a long function there is to
be split into named pieces, and this test names it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "testbed"
LIMIT = 60


def _modules() -> list[Path]:
    return [PACKAGE / "api.py", *sorted((PACKAGE / "campaign").glob("*.py")), *sorted((PACKAGE / "cli").glob("*.py"))]


def long_functions(source: str, limit: int = LIMIT) -> list[tuple[str, int]]:
    """``(qualified name, lines)`` of every function (methods and nested ones too) over ``limit`` lines."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > limit:
                    found.append((name, length))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_the_modules_checked_exist() -> None:
    names = {path.relative_to(PACKAGE).as_posix() for path in _modules()}
    assert {"api.py", "campaign/driver.py", "cli/__init__.py", "cli/stress.py"} <= names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_function_is_longer_than_60_lines(path: Path) -> None:
    too_long = long_functions(path.read_text())
    assert not too_long, ", ".join(f"{path.name}: {name} has {n} lines" for name, n in too_long)


def test_a_long_function_is_named_with_its_class_and_length() -> None:
    body = "\n".join(f"        x = {i}" for i in range(LIMIT))
    source = f"class Driver:\n    def run(self) -> None:\n{body}\n\ndef short() -> None:\n    pass\n"
    assert long_functions(source) == [("Driver.run", LIMIT + 1)]
    assert long_functions(source, limit=LIMIT + 1) == []
