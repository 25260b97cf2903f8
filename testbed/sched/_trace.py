"""Trace files: everything needed to replay a controlled run exactly.

A trace is a JSON object with ``"schema": "testbed.trace/2"``:

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

A replay checks every decision against its run: the same number of
runnable threads, the same thread chosen.  The first mismatch stops it
(:class:`~testbed.sched.ReplayDiverged` inside the run,
:class:`ReplayDivergedError` for the caller) instead of letting it run
some other schedule and report on that.

Reading is strict: a file that is not a trace of this schema and version
raises :class:`TraceError` with a one-line reason.  ``testbed.trace/1``
traces (a bare list of decisions, nothing to check them against) are
refused with a reason too: re-record them with this version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from testbed._version import __version__

__all__ = [
    "TRACE_SCHEMA",
    "ReplayDivergedError",
    "TraceError",
    "decode_tape",
    "encode_tape",
    "load_trace",
    "tape_problem",
    "write_trace",
]

TRACE_SCHEMA = "testbed.trace/2"
_OLD_SCHEMAS = ("testbed.trace/1",)
_REQUIRED = ("schema", "testbed_version", "config", "seed", "strategy", "threads", "tape", "events", "violation")


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
    return None


def write_trace(path: str | Path, trace: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(trace, separators=(",", ":")) + "\n")


def load_trace(path: str | Path) -> dict[str, Any]:
    """Read and validate a trace file."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise TraceError(f"cannot read trace {str(path)!r}: {error.strerror or error}") from None
    try:
        trace = json.loads(text)
    except json.JSONDecodeError as error:
        raise TraceError(f"trace {str(path)!r} is not JSON ({error.msg} at line {error.lineno})") from None
    schema = trace.get("schema") if isinstance(trace, dict) else None
    if schema in _OLD_SCHEMAS:
        raise TraceError(
            f"{str(path)!r} is a {schema} trace, which has no expectations to check a replay against; "
            f"this testbed reads {TRACE_SCHEMA}: record the run again"
        )
    if not isinstance(trace, dict) or schema != TRACE_SCHEMA:
        raise TraceError(f"{str(path)!r} is not a {TRACE_SCHEMA} trace (schema: {schema!r})")
    missing = [key for key in _REQUIRED if key not in trace]
    if missing:
        raise TraceError(f"trace {str(path)!r} lacks {', '.join(missing)}")
    if trace["testbed_version"] != __version__:
        raise TraceError(
            f"trace {str(path)!r} was written by testbed {trace['testbed_version']}, this is {__version__}; "
            "replay it with that version"
        )
    threads = trace["threads"]
    if not (isinstance(threads, list) and all(isinstance(name, str) for name in threads)):
        raise TraceError(f"trace {str(path)!r} has a threads entry that is not a list of names")
    problem = tape_problem(trace["tape"], len(threads))
    if problem is not None:
        raise TraceError(f"trace {str(path)!r}: {problem}")
    violation = trace["violation"]
    if violation is not None and not (isinstance(violation, dict) and "invariant" in violation and "step" in violation):
        raise TraceError(f"trace {str(path)!r} has a malformed violation record")
    return trace
