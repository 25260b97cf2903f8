"""Trace files of the model: the scheduling library's format, with the model's config checked.

:mod:`testbed.sched` reads and checks a ``testbed.trace/2`` document
(schema, version, tape, threads, events) and treats its ``config`` as an
opaque object; here that config is checked as the model reads it: built
by :meth:`Config.from_json <testbed.runtime.Config.from_json>`, its
scenario in the catalogue, its seed the trace's, its program the trace's
top-level ``program``.  Replay, shrink, timeline and the CLI read traces
through :func:`load_trace` so that none of them meets a config the model
cannot run halfway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed import sched
from testbed.runtime import Config, ConfigError
from testbed.scenarios import scenario_names

__all__ = ["config_problem", "load_trace", "validate_trace"]


def _program_problem(trace: dict[str, Any]) -> str | None:
    """The config's program and the trace's top-level one: null or a reference, and the same."""
    program = trace["config"].get("program")
    if program is not None and not (isinstance(program, str) and program.strip()):
        return f"config: program must be null or a program reference, got {program!r}"
    if "program" in trace and trace["program"] != program:
        top = trace["program"]
        if top is not None and not (isinstance(top, str) and top.strip()):
            return f"program must be null or a program reference, got {top!r}"
        if program is not None:
            return f"program {top!r} differs from the config's {program!r}"
    return None


def config_problem(trace: dict[str, Any]) -> str | None:
    """Why the trace's ``config`` is not a config of this model's (None: it is one)."""
    problem = _program_problem(trace)
    if problem is not None:
        return problem
    config = trace["config"]
    try:
        built = Config.from_json({key: value for key, value in config.items() if key != "program"})
        if built.scenario is not None:
            scenario_names(built.scenario, "scenario")
    except ConfigError as error:
        return f"config: {error}"
    if built.seed != trace["seed"]:
        return f"seed {trace['seed']} differs from the config's seed {built.seed}"
    return None


def validate_trace(trace: object, where: str = "<document>") -> dict[str, Any]:
    """``trace`` if it is a whole, well-formed trace whose config this model runs; else a TraceError."""
    return sched.validate_trace(trace, where, config_problem)


def load_trace(path: str | Path) -> dict[str, Any]:
    """Read a trace file and validate the whole document, its config included."""
    return sched.load_trace(path, config_problem)
