"""Trace files: everything needed to replay a controlled run exactly, or to pin a free one.

A trace is a JSON object with ``"schema": "testbed.trace/4"`` and a
``kind``: ``"controlled"`` (the fields below) or ``"free"`` (at the end).
A ``testbed.trace/3`` document, which has no ``kind``, is read as a
controlled trace.  A controlled trace holds:

``testbed_version``, ``config``, ``seed``, ``strategy``
    what ran: replaying runs the same configuration with the tape as a
    ``replay`` strategy.
``program``
    the program the run needs (the same as ``config["program"]``): null for
    the standard program, else a reference ``"module:qualname"`` or
    ``"/absolute/file.py:qualname"`` that a replay imports again; a local
    function or lambda is named too (``...<locals>...``, ``<lambda>``) but
    cannot be imported, and is passed to ``testbed.replay(path, program=fn)``.
    Optional when reading (a trace without it ran ``config["program"]``).
``threads``
    the names of the run's threads in registration order; a thread's index
    in this list is its identity on the tape.
``tape``
    the decisions, run-length encoded: a list of runs ``[decision,
    runnable, thread, repeat]``, each standing for ``repeat`` consecutive
    decisions that chose ``decision`` (relative, 0 = keep running) among
    ``runnable`` runnable threads and so handed the turn to ``thread``.
    Decisions are only taken where two or more threads are runnable, so
    ``runnable >= 2`` and ``decision < runnable``; ``repeat >= 1``.
``preemptions``, ``steps``
    switches away from a thread that could go on; scheduling points.
``events``, ``model_events``
    the scheduler's log (``[step, event, thread, detail]``: start, switch,
    block, wake, deadlock, end) and the model's (``[step, thread, kind,
    detail]``), for timelines.
``violation``
    the first violation (``invariant``, ``step``, ``thread``,
    ``message``), or null.
``fingerprint``
    what produced the trace, as hashes (strings, or null): opaque here,
    written and checked by the program that runs the traces (for the
    model: its code, the custom program's source and the header fields,
    see ``testbed.fingerprint``).

``pinned`` (optional)
    where a pinned schedule came from (an object: ``from``, ``schedules``,
    ``how``), for a controlled trace that pinning produced.

A free trace (``"kind": "free"``) holds ``config``, ``program``, ``seed``,
``strategy`` (``free``), ``threads`` (spawn order), ``steps``,
``model_events``, ``violation`` and ``fingerprint`` as above, and in place
of a tape and the scheduler's log ``kinds`` (the point kinds seen, by
number) and ``order``: runs ``[thread, kind, repeat]``, the points in the
order the threads passed them.  It is not replayed; pinning follows it.

A replay checks every decision against its run: the same number of
runnable threads, the same thread chosen.  The first mismatch stops it
(:class:`~testbed.sched.ReplayDiverged` inside the run,
:class:`ReplayDivergedError` for the caller) instead of letting it run
some other schedule and report on that.

Reading is strict and whole: before anything runs, :func:`load_trace`
(and :func:`validate_trace` for a document already in memory) checks the
encoding (UTF-8), the JSON, the schema and version, and every field's type
and range -- the config as the program that wrote it checks it (a
``config_problem`` the caller passes: this package knows nothing of the
model, for which see ``testbed.traces``), the tape against the threads,
each event's ``[step, event, thread, detail]`` shape -- so that replay,
shrink and timeline never meet a malformed value halfway.  A file that is not a trace of this schema and version raises
:class:`TraceError` with a one-line reason.  ``program`` (optional, at the
top level) is null or the reference of a custom workload (a non-empty
string); whether it can be resolved is for the replay to say.  Older
schemas are refused with a reason too (``testbed.trace/1``: a bare list of
decisions, nothing to check them against; ``testbed.trace/2``: no
fingerprint): re-record them with this version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from testbed._version import __version__

__all__ = [
    "TRACE_KINDS",
    "TRACE_SCHEMA",
    "order_problem",
    "ConfigCheck",
    "ReplayDivergedError",
    "TraceError",
    "decode_tape",
    "encode_tape",
    "load_trace",
    "tape_problem",
    "validate_trace",
    "write_trace",
]

TRACE_SCHEMA = "testbed.trace/4"
#: the schema before trace kinds: a controlled trace, read as one of ``"kind": "controlled"``
_CONTROLLED_SCHEMA = "testbed.trace/3"
#: the kinds of trace: a controlled run's (a tape to replay) and a free run's (the order its threads ran in)
TRACE_KINDS = ("controlled", "free")
#: older schemas, and why this version does not replay them
_OLD_SCHEMAS = {
    "testbed.trace/1": "which has no expectations to check a replay against",
    "testbed.trace/2": "which has no fingerprint of the code that recorded it",
}
_REQUIRED = (
    "schema",
    "testbed_version",
    "config",
    "seed",
    "strategy",
    "threads",
    "tape",
    "events",
    "violation",
    "fingerprint",
)
_OPTIONAL = ("preemptions", "steps", "model_events", "program", "kind", "pinned")
#: a free trace: the order its threads passed points in, instead of a tape and a scheduler log
_FREE_REQUIRED = (
    "schema",
    "testbed_version",
    "kind",
    "config",
    "seed",
    "strategy",
    "threads",
    "kinds",
    "order",
    "violation",
    "fingerprint",
)
_FREE_OPTIONAL = ("steps", "model_events", "program")
#: strategies whose runs have a trace (``free`` runs cannot be replayed)
_CONTROLLED = ("random", "pct", "pos", "surw", "replay", "hypothesis")

#: what the program under test checks in a trace's ``config`` (this package does not know
#: its fields): the reason it is not a config the program can run, or None
ConfigCheck = Callable[[dict[str, Any]], str | None]


class TraceError(ValueError):
    """The file is not a usable trace."""


class ReplayDivergedError(TraceError):
    """A checked replay no longer follows its tape: the run is another schedule.

    Raised by :func:`testbed.run` for a tape with expectations (a trace's
    tape).  The message reads ``diverged at step N: expected K runnable /
    thread T, found ...``; the attributes are those of the
    :class:`~testbed.sched.ReplayDiverged` halt that stopped the run.  A
    :class:`TraceError`, because the tape (not the configuration) is what
    does not fit this run, and as bad input the CLI exits 2 on it.
    """

    def __init__(
        self,
        message: str,
        step: int,
        entry: int,
        expected: tuple[int, int] | None,
        found: tuple[int, int] | None,
    ) -> None:
        super().__init__(message)
        #: the scheduling step at which the divergence was noticed
        self.step = step
        #: the index of the tape entry (decision) that did not match
        self.entry = entry
        #: ``(runnable, thread index)`` recorded, None past the tape's end
        self.expected = expected
        #: ``(runnable, thread index)`` this run found, None if it ended first
        self.found = found

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across stress worker processes
        return (type(self), (str(self), self.step, self.entry, self.expected, self.found))


def encode_tape(entries: Iterable[Sequence[int]]) -> list[list[int]]:
    """``(decision, runnable, thread)`` entries as ``[decision, runnable, thread, repeat]`` runs."""
    runs: list[list[int]] = []
    for decision, runnable, thread in entries:
        if runs and runs[-1][0] == decision and runs[-1][1] == runnable and runs[-1][2] == thread:
            runs[-1][3] += 1
        else:
            runs.append([decision, runnable, thread, 1])
    return runs


def decode_tape(runs: Iterable[Sequence[int]]) -> tuple[list[int], list[tuple[int, int]]]:
    """The decisions of a run-length encoded tape, and each one's ``(runnable, thread)``."""
    decisions: list[int] = []
    expected: list[tuple[int, int]] = []
    for decision, runnable, thread, repeat in runs:
        decisions.extend([decision] * repeat)
        expected.extend([(runnable, thread)] * repeat)
    return decisions, expected


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_step(value: object) -> bool:
    return _is_count(value)


def tape_problem(runs: object, threads: int | None = None) -> str | None:
    """Why ``runs`` is not a run-length encoded tape (None if it is one)."""
    if not isinstance(runs, list):
        return "a tape must be a list of [decision, runnable, thread, repeat] runs"
    for i, run in enumerate(runs):
        if not (isinstance(run, list | tuple) and len(run) == 4 and all(_is_count(v) for v in run)):
            return f"tape run {i} is not [decision, runnable, thread, repeat] (non-negative integers): {run!r}"
        decision, runnable, thread, repeat = run
        if runnable < 2 or decision >= runnable or repeat < 1:
            return f"tape run {i} {list(run)!r} needs runnable >= 2, decision < runnable and repeat >= 1"
        if threads is not None and thread >= threads:
            return f"tape run {i} names thread {thread}, but the trace has {threads} threads"
        if threads is not None and runnable > threads:
            return f"tape run {i} has {runnable} runnable threads, but the trace has {threads} threads"
    return None


def write_trace(path: str | Path, trace: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(trace, separators=(",", ":")) + "\n")


def load_trace(path: str | Path, config_problem: ConfigCheck | None = None) -> dict[str, Any]:
    """Read a trace file and validate the whole document (:func:`validate_trace`)."""
    where = repr(str(path))
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise TraceError(f"cannot read trace {where}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TraceError(f"trace {where} is not UTF-8 text (byte {error.start}); is it a binary file?") from None
    try:
        trace = json.loads(text)
    except json.JSONDecodeError as error:
        raise TraceError(f"trace {where} is not JSON ({error.msg} at line {error.lineno})") from None
    except (ValueError, RecursionError) as error:  # integers too long to convert, nesting too deep
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error).split(";")[0]
        raise TraceError(f"trace {where} is not usable JSON ({reason})") from None
    return validate_trace(trace, where, config_problem)


def validate_trace(
    trace: object, where: str = "<document>", config_problem: ConfigCheck | None = None
) -> dict[str, Any]:
    """``trace`` if it is a whole, well-formed trace of this schema and version; else :class:`TraceError`.

    ``where`` names the source in the one-line reason (a quoted path).
    ``config_problem(trace)`` checks the model's config (an opaque object
    here), after the seed and strategy and before the threads and tape.
    """
    schema = trace.get("schema") if isinstance(trace, dict) else None
    if schema in _OLD_SCHEMAS:
        raise TraceError(
            f"{where} is a {schema} trace, {_OLD_SCHEMAS[schema]}; this testbed reads {TRACE_SCHEMA}: record the run again"
        )
    if not isinstance(trace, dict) or schema not in (TRACE_SCHEMA, _CONTROLLED_SCHEMA):
        raise TraceError(f"{where} is not a {TRACE_SCHEMA} trace (schema: {schema!r})")
    kind = trace.get("kind", "controlled")
    if kind not in TRACE_KINDS or (schema == _CONTROLLED_SCHEMA and "kind" in trace):
        raise TraceError(f"trace {where}: kind must be one of {', '.join(TRACE_KINDS)} ({TRACE_SCHEMA}), got {kind!r}")
    required, optional = (_REQUIRED, _OPTIONAL) if kind == "controlled" else (_FREE_REQUIRED, _FREE_OPTIONAL)
    missing = [key for key in required if key not in trace]
    if missing:
        raise TraceError(f"trace {where} lacks {', '.join(missing)}")
    unknown = sorted(str(key) for key in trace if key not in required and key not in optional)
    if unknown:
        raise TraceError(f"trace {where} has an unknown field {unknown[0]!r}")
    if trace["testbed_version"] != __version__:
        raise TraceError(
            f"trace {where} was written by testbed {trace['testbed_version']!r}, this is {__version__}; "
            "replay it with that version"
        )
    problem = _document_problem(trace, config_problem) if kind == "controlled" else _free_problem(trace, config_problem)
    if problem is not None:
        raise TraceError(f"trace {where}: {problem}")
    return trace


def _document_problem(trace: dict[str, Any], config_problem: ConfigCheck | None) -> str | None:
    """What is wrong with a trace's fields past its schema and version (None: nothing)."""
    seed = trace["seed"]
    if not _is_count(seed):
        return f"seed must be a non-negative integer, got {seed!r}"
    strategy = trace["strategy"]
    if strategy not in _CONTROLLED:
        return f"strategy must be one of {', '.join(_CONTROLLED)} (a controlled run), got {_short(strategy)}"
    config = trace["config"]
    if not isinstance(config, dict):
        return f"config must be an object, got {_short(config)}"
    if config_problem is not None:
        problem = config_problem(trace)
        if problem is not None:
            return problem
    threads = trace["threads"]
    if not (isinstance(threads, list) and all(isinstance(name, str) and name for name in threads)):
        return f"threads must be a list of names, got {_short(threads)}"
    if len(set(threads)) != len(threads):
        return f"threads must be a list of distinct names, got {_short(threads)}"
    problem = tape_problem(trace["tape"], len(threads))
    if problem is not None:
        return problem
    if "pinned" in trace and not isinstance(trace["pinned"], dict):
        return f"pinned must be an object (where the schedule was pinned from), got {_short(trace['pinned'])}"
    for key in ("preemptions", "steps"):
        if key in trace and not _is_count(trace[key]):
            return f"{key} must be a non-negative integer, got {trace[key]!r}"
    problem = _events_problem("events", trace["events"], ("step", "event", "thread", "detail"), 1)
    if problem is None and "model_events" in trace:
        problem = _events_problem("model_events", trace["model_events"], ("step", "thread", "kind", "detail"), 2)
    if problem is not None:
        return problem
    problem = _violation_problem(trace["violation"])
    if problem is not None:
        return problem
    fingerprint = trace["fingerprint"]
    if not (isinstance(fingerprint, dict) and all(v is None or isinstance(v, str) for v in fingerprint.values())):
        return f"fingerprint must be an object of hashes (strings or null), got {_short(fingerprint)}"
    return None


def order_problem(kinds: object, order: object, threads: int) -> str | None:
    """Why ``kinds`` and ``order`` are not a free run's recorded order (None if they are one)."""
    if not (isinstance(kinds, list) and all(isinstance(kind, str) and kind for kind in kinds)):
        return f"kinds must be a list of point kinds (names), got {_short(kinds)}"
    if not isinstance(order, list):
        return "order must be a list of [thread, kind, repeat] runs"
    for i, run in enumerate(order):
        if not (isinstance(run, list) and len(run) == 3 and all(_is_count(v) for v in run)):
            return f"order run {i} is not [thread, kind, repeat] (non-negative integers): {_short(run)}"
        thread, kind, repeat = run
        if thread >= threads or kind >= len(kinds) or repeat < 1:
            return f"order run {i} {run!r} needs thread < {threads}, kind < {len(kinds)} and repeat >= 1"
    return None


def _free_problem(trace: dict[str, Any], config_problem: ConfigCheck | None) -> str | None:
    """What is wrong with a free trace's fields past its schema and version (None: nothing)."""
    seed = trace["seed"]
    if not _is_count(seed):
        return f"seed must be a non-negative integer, got {seed!r}"
    if trace["strategy"] != "free":
        return f"a free trace's strategy is free, got {_short(trace['strategy'])}"
    if not isinstance(trace["config"], dict):
        return f"config must be an object, got {_short(trace['config'])}"
    if config_problem is not None and (problem := config_problem(trace)) is not None:
        return problem
    threads = trace["threads"]
    if not (isinstance(threads, list) and all(isinstance(name, str) and name for name in threads)):
        return f"threads must be a list of names, got {_short(threads)}"
    if len(set(threads)) != len(threads):
        return f"threads must be a list of distinct names, got {_short(threads)}"
    problem = order_problem(trace["kinds"], trace["order"], len(threads))
    if problem is None and "steps" in trace and not _is_count(trace["steps"]):
        problem = f"steps must be a non-negative integer, got {trace['steps']!r}"
    if problem is None and "model_events" in trace:
        problem = _events_problem("model_events", trace["model_events"], ("step", "thread", "kind", "detail"), 2)
    if problem is None:
        problem = _violation_problem(trace["violation"])
    fingerprint = trace["fingerprint"]
    if problem is None and not (
        isinstance(fingerprint, dict) and all(v is None or isinstance(v, str) for v in fingerprint.values())
    ):
        problem = f"fingerprint must be an object of hashes (strings or null), got {_short(fingerprint)}"
    return problem


def _events_problem(key: str, events: object, shape: tuple[str, ...], kind: int) -> str | None:
    """Each event a list ``[step, text, text, text]`` (the names in ``shape``), its ``kind``-th not empty."""
    if not isinstance(events, list):
        return f"{key} must be a list of [{', '.join(shape)}] entries, got {_short(events)}"
    for i, event in enumerate(events):
        if not (
            isinstance(event, list)
            and len(event) == len(shape)
            and _is_step(event[0])
            and all(isinstance(text, str) for text in event[1:])
            and event[kind]
        ):
            return (
                f"{key} entry {i} is not [{', '.join(shape)}] "
                f"(a non-negative step and three strings, the {shape[kind]} not empty): {_short(event)}"
            )
    return None


def _violation_problem(violation: object) -> str | None:
    if violation is None:
        return None
    if not (isinstance(violation, dict) and "invariant" in violation and "step" in violation):
        return f"violation must be null or an object with invariant and step, got {_short(violation)}"
    unknown = sorted(str(key) for key in violation if key not in ("invariant", "step", "thread", "message"))
    if unknown:
        return f"violation has an unknown field {unknown[0]!r}"
    if not (isinstance(violation["invariant"], str) and violation["invariant"]):
        return f"violation invariant must be a name, got {violation['invariant']!r}"
    if not _is_step(violation["step"]):
        return f"violation step must be a non-negative integer, got {violation['step']!r}"
    thread = violation.get("thread")
    if thread is not None and not isinstance(thread, str):
        return f"violation thread must be a name or null, got {thread!r}"
    if not isinstance(violation.get("message", ""), str):
        return f"violation message must be a string, got {violation['message']!r}"
    return None


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
