"""Replaying a saved explored schedule: ``testbed.sched.replay(path, threads, setup=, check=)``.

The other half of :meth:`ExploreResult.save`
(:mod:`testbed.sched._explore_trace`): the file is read whole and checked
first, then its tape is replayed checked against the given threads, as a
model trace is (:func:`testbed.replay`): a run that stops following the
tape raises :class:`~testbed.sched.ReplayDivergedError` instead of
reporting on some other schedule, its message naming what changed since
the recording according to the trace's fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from testbed.sched._explore import ExploreResult, _Explorer, _replay, _threads
from testbed.sched._explore_trace import fingerprint_changes, read
from testbed.sched._trace import ReplayDivergedError, TraceError

__all__ = ["replay"]


def replay(
    path: str | Path,
    threads: Sequence[Callable[..., object]] | Mapping[str, Callable[..., object]],
    *,
    setup: Callable[[], object] | None = None,
    check: Callable[..., object] | None = None,
    timeout: float = 10.0,
    pin_cpu: bool = True,
) -> ExploreResult:
    """Replay the schedule saved at ``path`` (:meth:`ExploreResult.save`) on ``threads``.

    ``threads``, ``setup`` and ``check`` are what was explored.  The file is
    read whole first (:class:`~testbed.sched.TraceError`, one line, for a
    file that is not an explored program's trace, or whose threads are not
    these); then the tape is replayed checked, as for model traces: the
    first decision that finds another number of runnable threads or hands
    the turn to another thread raises :class:`~testbed.sched.ReplayDivergedError`,
    its message naming the parts of the fingerprint that changed (the
    program's source, the file's tape...).  Returns the replay's result,
    which for an unchanged program fails as recorded.
    """
    trace = read(path)
    names, functions = _threads(threads)
    recorded = trace["threads"]
    if recorded[: len(names)] != names:
        raise TraceError(f"trace {str(path)!r} ran threads {recorded[: len(names)]}, not {names}")
    entry = trace["config"]["explore"]
    explorer = _Explorer(names, functions, setup, check, entry["max_steps"], float(timeout), pin_cpu)
    schedule = entry.get("schedule")
    try:
        return _replay(explorer, trace["tape"], schedule if isinstance(schedule, int) else None, trace["seed"])
    except ReplayDivergedError as error:
        changed = fingerprint_changes(trace, functions, setup, check)
        if not changed:
            raise
        raise ReplayDivergedError(
            f"{error} (changed since the trace was recorded: {', '.join(changed)})",
            error.step,
            error.entry,
            error.expected,
            error.found,
        ) from None
