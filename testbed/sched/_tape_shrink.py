"""Shrinking and explaining a failing explored schedule, on explore's own tapes.

:meth:`ExploreResult.shrink` removes preemptions from the failing
schedule's tape until none can be: it sets one nonzero decision to 0 at a
time (and chunks of them, ddmin-style: :mod:`testbed.sched._minimize`, the
search model traces use too), replays the tape unchecked (the decisions
after a removed switch mean something else now, and any tape is a valid
schedule), and keeps the candidate when the run still fails the same way
(the same failure kind and, for an exception, the same exception type),
continuing from the run's own recorded tape.  Passes repeat until one
removes nothing: the result is 1-minimal -- removing any single remaining
switch makes the failure go away.  (CHESS's preemption bounding
and Shuttle's shrinker make the same argument: few preemptions, readable
schedule.)

:meth:`ExploreResult.explain` replays the schedule once more, watching
every point (which object each one touches, :mod:`testbed.sched._access`,
and the source line that called it), and for each preemption names the
operation the preempted thread was about to do and the operations the
other threads did before it resumed that race with it (same object, one
of the two writes; :func:`testbed.sched._pos.races`): the reordering the
schedule needed.
"""

from __future__ import annotations

import linecache
import os
from types import FrameType
from typing import Any

from testbed.sched._minimize import minimize_tape, trim_tape
from testbed.sched._pos import Resource, races, resource
from testbed.sched._strategies import ReplayStrategy
from testbed.sched._trace import decode_tape
from testbed.sched._watch import WatchedReplay

__all__ = ["explain_tape", "shrink_tape"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def _signature(result: Any) -> tuple[str, str]:
    """What "the same failure" keeps: the kind and, for an exception, its type."""
    error = result.exception if result.kind == "exception" else None
    return (result.kind, "" if error is None else type(error).__name__)


#: runs one shrink may spend (each replays the whole program once)
SHRINK_BUDGET = 2000


def shrink_tape(result: Any, budget: int = SHRINK_BUDGET) -> Any:
    """A 1-minimal failing schedule of ``result`` (an ``ExploreResult``), as a new result.

    The search is :func:`testbed.sched._minimize.minimize_tape`, the one
    model traces use; "fails the same way" here is :func:`_signature`.
    """
    explorer = result._explorer
    target = _signature(result)
    runs: dict[tuple[int, ...], Any] = {}

    def attempt(candidate: list[int]) -> list[int] | None:
        run = explorer.run_schedule(ReplayStrategy(candidate), result.strategy, result.schedule, result.seed)
        if not (run.failed and _signature(run.result(1)) == target):
            return None
        own = decode_tape(run.scheduler.recorded_tape())[0]
        runs[tuple(trim_tape(own))] = run
        return own

    found = minimize_tape(decode_tape(result.tape)[0], attempt, budget)
    best = runs.get(tuple(found.tape))
    if best is None:
        # Nothing removable: the schedule itself is 1-minimal; run it again for a fresh result.
        return result.replay()
    return best.result(result.schedules, result.horizon)


def _caller(frame: FrameType | None) -> str:
    """``file:line: source`` of the code under test that reached the point (the first frame outside sched)."""
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _HERE:
        frame = frame.f_back
    if frame is None:
        return "?"
    filename, line = frame.f_code.co_filename, frame.f_lineno
    text = linecache.getline(filename, line).strip()
    return f"{os.path.basename(filename)}:{line}: {text}" if text else f"{os.path.basename(filename)}:{line}"


def _describe(kind: str, detail: object) -> str:
    return kind if detail is None else f"{kind} {detail}"


def explain_tape(result: Any) -> str:
    """The racing operations behind each preemption of ``result``'s failing schedule, one block each."""
    decisions, expected = decode_tape(result.tape)
    watch = WatchedReplay(decisions, expected, _caller)
    run = result._explorer.run_schedule(watch, "replay", result.schedule, result.seed)
    names = run.scheduler.thread_names()
    points = watch.points
    lines = [f"{result.kind} in thread {result.thread}: {result.message}" if result.thread else result.message]
    if not watch.preemptions:
        lines.append("no preemption: the failure happens in the schedule that never switches")
    for number, (at, _entry, step, preempted, chosen) in enumerate(watch.preemptions, 1):
        pending = next((p for p in reversed(points[:at]) if p[0] == preempted), None)
        if pending is None:
            lines.append(f"preemption {number} at step {step}: {names[preempted]} before its first point")
            continue
        mine: Resource = resource(pending[1], pending[2])
        resumed = next((i for i in range(at, len(points)) if points[i][0] == preempted), len(points))
        window = [p for p in points[at:resumed] if p[0] != preempted]
        # A thread that ran meanwhile first did the operation it was parked at (reached before the switch).
        ran = [chosen] + [p[0] for p in window if p[0] != chosen]
        earlier = []
        for thread in dict.fromkeys(ran):
            parked = next((p for p in reversed(points[:at]) if p[0] == thread), None)
            if parked is not None:
                earlier.append(parked)
        window = earlier + window
        racing = [p for p in window if races(mine, resource(p[1], p[2]))]
        lines.append(
            f"preemption {number} at step {step}: {names[preempted]} stopped before "
            f"{_describe(pending[1], pending[2])} at {pending[3]}"
        )
        shown = racing[:4] or window[:1]
        word = "races with" if racing else "then"
        for thread, kind, detail, where in shown:
            lines.append(f"  {word} {names[thread]}: {_describe(kind, detail)} at {where}")
        if len(racing) > len(shown):
            lines.append(f"  ... and {len(racing) - len(shown)} more racing operations")
    return "\n".join(lines)
