"""Trace files of explored schedules: ``ExploreResult.save`` and what ``replay(path, ...)`` checks.

An explored schedule is saved in the model's trace format
(``testbed.trace/4``, :mod:`testbed.sched._trace`): the thread names in
registration order (the explored functions first, then every thread they
started), the tape as runs ``[decision, runnable, thread, repeat]`` with
its expectations, the scheduler's events, the failure as the
``violation`` (``invariant`` is the failure kind), and a ``config`` that
says it is an explored program (``{"explore": {...}}``: the strategy that
found it, the schedule and its limits).

Its ``fingerprint`` follows ``testbed.fingerprint``'s idea, within this
layer: ``program`` hashes the source of the thread functions, ``setup``
and ``check`` (each one's syntax tree without docstrings, so comments and
reformatting do not count; the code object's bytecode when the source is
not available), ``strategy``, ``threads`` and ``tape`` hash those fields.
:func:`fingerprint_changes` names which of them differ, so that a replay
that diverges can say whether the program changed or the file was edited.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from testbed._version import __version__
from testbed.sched._trace import TRACE_SCHEMA, load_trace, write_trace

__all__ = ["EXPLORE_KEY", "explore_config_problem", "fingerprint_changes", "program_hash", "read", "trace_document"]

#: the key of ``config`` that marks an explored program's trace
EXPLORE_KEY = "explore"
_DIGITS = 16


def _hash(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:_DIGITS]


def _function_text(function: Callable[..., object] | None) -> str:
    """The syntax of ``function`` without docstrings (its bytecode when there is no source)."""
    if function is None:
        return ""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        code = getattr(function, "__code__", None)
        return "" if code is None else code.co_code.hex()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def program_hash(functions: Sequence[Callable[..., object]], setup: object, check: object) -> str:
    """The hash of the explored program: its thread functions, ``setup`` and ``check``."""
    parts = [_function_text(f) for f in functions]
    parts += [_function_text(setup if callable(setup) else None), _function_text(check if callable(check) else None)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:_DIGITS]


def trace_document(result: Any) -> dict[str, Any]:
    """The ``testbed.trace/4`` document of a failing ``ExploreResult``."""
    explorer = result._explorer
    member = result.strategy.removeprefix("portfolio:").partition("(")[0]
    strategy = member if member in ("random", "pct", "pos", "surw", "replay") else "replay"
    config = {
        EXPLORE_KEY: {
            "strategy": result.strategy,
            "schedule": result.schedule,
            "max_steps": explorer.max_steps,
            "entry": list(explorer.names),
        }
    }
    tape = [list(run) for run in result.tape]
    return {
        "schema": TRACE_SCHEMA,
        "kind": "controlled",
        "testbed_version": __version__,
        "config": config,
        "seed": 0 if result.seed is None else result.seed,
        "strategy": strategy,
        "program": None,
        "threads": list(result.threads),
        "tape": tape,
        "preemptions": result.preemptions,
        "steps": result.steps,
        "events": [[step, event, thread, detail] for step, event, thread, detail in result.events],
        "violation": {
            "invariant": result.kind,
            "step": result.step or 0,
            "thread": result.thread,
            "message": result.message,
        },
        "fingerprint": {
            "program": program_hash(explorer.functions, explorer.setup, explorer.check),
            "strategy": _hash(strategy),
            "threads": _hash(list(result.threads)),
            "tape": _hash(tape),
        },
    }


def save(result: Any, path: str | Path) -> Path:
    """Write ``result``'s failing schedule to ``path``; returns it."""
    target = Path(path)
    write_trace(target, trace_document(result))
    return target


def explore_config_problem(trace: dict[str, Any]) -> str | None:
    """Why a trace is not one of an explored program (None if it is)."""
    config = trace["config"]
    entry = config.get(EXPLORE_KEY) if isinstance(config, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("max_steps"), int):
        return "it is not the trace of an explored program (no config.explore): replay it with testbed replay"
    return None


def read(path: str | Path) -> dict[str, Any]:
    """The trace at ``path``, checked whole (:class:`~testbed.sched.TraceError` with a one-line reason)."""
    return load_trace(path, explore_config_problem)


def fingerprint_changes(
    trace: dict[str, Any], functions: Sequence[Callable[..., object]], setup: object, check: object
) -> list[str]:
    """Which parts of the trace's fingerprint the given program and the file itself no longer match."""
    recorded = trace["fingerprint"]
    now = {
        "program": program_hash(functions, setup, check),
        "strategy": _hash(trace["strategy"]),
        "threads": _hash(trace["threads"]),
        "tape": _hash(trace["tape"]),
    }
    return [key for key, value in now.items() if key in recorded and recorded[key] != value]
