"""Trace files of the model: the scheduling library's format, with the model's config checked.

:mod:`testbed.sched` reads and checks a ``testbed.trace/4`` document
(schema, version, tape, threads, events) and treats its ``config`` as an
opaque object; here that config is checked as the model reads it: built
by :meth:`Config.from_json <testbed.runtime.Config.from_json>`, its
scenario in the catalogue, its seed the trace's, its program the trace's
top-level ``program``.  Replay, shrink, timeline and the CLI read traces
through :func:`load_trace` so that none of them meets a config the model
cannot run halfway.

A free run's trace (``"kind": "free"``: the order its threads passed
their points in, no tape) is read only by :mod:`testbed.pinning`; replay,
shrink and timeline refuse it with a line that says to pin it.

The trace's ``fingerprint`` (:mod:`testbed.fingerprint`) is checked in two
steps.  Loading refuses a trace whose header (config, strategy, threads)
no longer hashes to what its recorder wrote: it was edited, and replaying
it would not reproduce anything.  Replaying (and shrinking) also compares
the hashes of the model's code and of the custom program's source with
the ones installed now (:func:`code_changes`); a replay across a change
is refused unless the caller allows it knowingly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed import sched
from testbed.fingerprint import header_fields, header_hashes, model_hash, program_hash
from testbed.runtime import Config, ConfigError, Program
from testbed.scenarios import scenario_names

__all__ = ["CodeChanged", "code_changes", "config_problem", "load_trace", "replay_config", "validate_trace"]


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


class CodeChanged(sched.TraceError):
    """The model's code or the custom program changed since the trace was recorded: a replay is no reproduction."""


def _edited(trace: dict[str, Any], where: str) -> dict[str, Any]:
    recorded = trace["fingerprint"]
    now = header_hashes(trace)
    for field in header_fields(trace):
        if recorded.get(field) != now[field]:
            raise sched.TraceError(
                f"trace {where}: its {field} field is not what it was recorded with (its hash in the fingerprint "
                "differs): the trace was edited, and replaying it would not reproduce the recorded run"
            )
    return trace


def _of_kind(trace: dict[str, Any], where: str, free: bool) -> dict[str, Any]:
    """``trace``, unless it is a free trace where only a controlled one (a tape) will do."""
    if trace.get("kind") == "free" and not free:
        raise sched.TraceError(
            f"{where} is a free trace (the order a free run's threads ran in, no tape to replay): "
            f"`testbed pin {where}` turns it into a controlled trace that replays its finding"
        )
    return trace


def validate_trace(trace: object, where: str = "<document>", free: bool = False) -> dict[str, Any]:
    """``trace`` if it is a whole, well-formed, unedited trace whose config this model runs; else a TraceError.

    A free trace (``"kind": "free"``) is refused unless ``free``: only pinning reads one.
    """
    return _of_kind(_edited(sched.validate_trace(trace, where, config_problem), where), where, free)


def load_trace(path: str | Path, free: bool = False) -> dict[str, Any]:
    """Read a trace file and validate the whole document, its config and fingerprint included (``free`` as above)."""
    where = repr(str(path))
    return _of_kind(_edited(sched.load_trace(path, config_problem), where), where, free)


def code_changes(trace: dict[str, Any], program: Any) -> list[str]:
    """What changed since ``trace`` was recorded: the model's code, the program's source (empty: nothing).

    ``program`` is the workload function the replay runs (None: the standard program).
    """
    recorded = trace["fingerprint"]
    changes = []
    if recorded.get("model") != model_hash():
        changes.append(f"the model's code (fingerprint {recorded.get('model')}, installed {model_hash()})")
    if program is not None and recorded.get("program") != (now := program_hash(program)):
        changes.append(f"the program's source (fingerprint {recorded.get('program')}, now {now})")
    return changes


def replay_config(trace: dict[str, Any], program: Program | None = None) -> Config:
    """The trace's config as a replay (strategy ``replay``); its program imported again, or ``program`` in its place.

    ConfigError when ``program`` is given for a trace of the standard
    program, or when the recorded program reference no longer imports.
    """
    config = Config.from_json(trace["config"]).replace(strategy="replay")
    if program is not None:
        if config.program is None:
            raise ConfigError("program: the trace ran the standard program, it takes no program=")
        return config.replace(program=program)
    config.program_function()  # ConfigError naming the reference when it does not import
    return config
