"""What produced a trace: hashes of the model's code, of the custom program and of the trace's own header.

A controlled trace replays exactly only against the code that recorded it.
When a replay comes out clean although the trace recorded a violation, the
model, the program or the trace itself changed, and the user needs to know
which.  A trace therefore records a fingerprint:

``model``
    a hash of the code that runs during a schedule: the packages
    ``sched``, ``heap``, ``runtime``, ``deopt``, ``gc``, ``check`` and the
    modules ``faults``, ``scenarios``, ``validate`` (not the CLI, the
    campaign driver or the docs, which do not change what a schedule does);
``program``
    the same hash of the file that defines the custom program (null for the
    standard program);
``config``, ``strategy``, ``threads``, ``tape``, ``violation``
    (a free trace: ``kinds`` and ``order`` in place of ``tape``)
    hashes of the trace's own fields that decide what a replay runs and
    what it must find, so that an edited trace is told apart from changed
    code, and the edited field is named.

The code hashes are of each module's syntax tree with docstrings left out
(a dump of the tree without positions): reformatting, comments and
docstrings do not change what runs, so they do not invalidate recorded
traces.  Any change to a statement, a name or a constant does.  The dump
is the same on every supported interpreter (3.11 to 3.13, with or without
the GIL), so a trace recorded on one replays on another: ``ast.dump``
itself is not (3.12 added empty ``type_params`` fields, 3.13 leaves out
empty and None fields), so empty fields are left out here on every
version.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "FREE_HEADER_FIELDS",
    "HEADER_FIELDS",
    "header_fields",
    "MODEL_PARTS",
    "fingerprint",
    "header_hashes",
    "model_hash",
    "program_hash",
    "source_hash",
]

_PACKAGE = Path(__file__).resolve().parent

#: the parts of the package that run during a schedule
MODEL_PARTS = ("sched", "heap", "runtime", "deopt", "gc", "check", "faults.py", "scenarios.py", "validate.py")

#: hex digits kept of each hash (64 bits: collisions are not a concern here)
_DIGITS = 16


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _dump(node: object) -> str:
    """``ast.dump`` without positions, leaving out fields that are None or empty (as 3.13's does)."""
    if isinstance(node, ast.AST):
        fields = []
        for name in node._fields:
            value = getattr(node, name, None)
            if value is None or value == []:
                continue
            fields.append(f"{name}={_dump(value)}")
        return f"{type(node).__name__}({', '.join(fields)})"
    if isinstance(node, list):
        return f"[{', '.join(_dump(item) for item in node)}]"
    return repr(node)


def source_hash(text: str) -> str:
    """The hash of one module's code: its syntax tree without docstrings (the raw text if it does not parse)."""
    try:
        canonical = _dump(_without_docstrings(ast.parse(text)))
    except SyntaxError:
        canonical = text
    return hashlib.sha256(canonical.encode()).hexdigest()[:_DIGITS]


def _model_files() -> Iterable[Path]:
    for part in MODEL_PARTS:
        path = _PACKAGE / part
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        else:
            yield path


@functools.cache
def model_hash() -> str:
    """The hash of the model's code as installed (computed once per process)."""
    digest = hashlib.sha256()
    for path in _model_files():
        relative = path.relative_to(_PACKAGE).as_posix()
        digest.update(f"{relative}\0{source_hash(path.read_text(encoding='utf-8'))}\0".encode())
    return digest.hexdigest()[:_DIGITS]


def program_hash(function: Any) -> str | None:
    """The hash of the file defining ``function`` (a workload), or None when it has no readable source file."""
    module = sys.modules.get(getattr(function, "__module__", None) or "")
    file = getattr(module, "__file__", None)
    if file is None:
        return None
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return source_hash(text)


#: the trace fields whose hashes a fingerprint holds, in the order a mismatch is looked for
HEADER_FIELDS = ("config", "strategy", "threads", "tape", "violation")


def _document_hash(value: Any) -> str:
    document = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(document.encode()).hexdigest()[:_DIGITS]


#: a free trace's header fields: its recorded order (and point kinds) in place of a tape
FREE_HEADER_FIELDS = ("config", "strategy", "threads", "kinds", "order", "violation")


def header_fields(trace: dict[str, Any]) -> tuple[str, ...]:
    """The header fields of ``trace``: :data:`HEADER_FIELDS`, or a free trace's :data:`FREE_HEADER_FIELDS`."""
    return FREE_HEADER_FIELDS if trace.get("kind") == "free" else HEADER_FIELDS


def header_hashes(trace: dict[str, Any]) -> dict[str, str]:
    """The hash of each of a trace's header fields (:func:`header_fields`)."""
    return {field: _document_hash(trace[field]) for field in header_fields(trace)}


def fingerprint(trace: dict[str, Any], program: Any) -> dict[str, str | None]:
    """What produced ``trace`` (its header already filled in), run with the workload ``program`` (None: the standard one)."""
    return {
        "model": model_hash(),
        "program": None if program is None else program_hash(program),
        **header_hashes(trace),
    }
