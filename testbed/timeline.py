"""``testbed timeline TRACE -o FILE``: a trace as Chrome trace-event JSON.

Opens in Perfetto (ui.perfetto.dev) or ``chrome://tracing``.  The time axis
is the scheduling step (one step = one microsecond of display time), so the
picture is exact for controlled runs: each thread gets a track; a slice is a
stretch in which that thread held the turn, ending where the scheduler
switched away (the slice says at which point); instant events mark blocks,
wake-ups, deadlocks, and the model's own events (pauses, scavenge tasks,
deopts, weak-list links and unlinks); the violation is a global instant at
the step it was seen.  Given the racing pairs of the trace's preemptions
(:func:`testbed.races.explain_races`, ``testbed explain TRACE --timeline
FILE``), each pair is drawn as a flow arrow from the interrupted operation
to each conflicting one, both marked with an instant event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from testbed.traces import validate_trace

__all__ = ["chrome_trace", "write_timeline"]


def chrome_trace(trace: dict[str, Any], races: Sequence[Any] = ()) -> dict[str, Any]:
    """The ``traceEvents`` document for a ``testbed.trace/4`` trace (TraceError if it is not a whole one), ``races`` as arrows."""
    validate_trace(trace)
    threads: dict[str, int] = {}

    def tid(name: str) -> int:
        return threads.setdefault(name, len(threads) + 1)

    events: list[dict[str, Any]] = []
    running: tuple[str, int] | None = None  # (thread, since step)

    def close(step: int, why: str) -> None:
        nonlocal running
        if running is not None:
            name, since = running
            events.append(
                {
                    "name": "running",
                    "cat": "schedule",
                    "ph": "X",
                    "ts": since,
                    "dur": max(1, step - since),
                    "pid": 1,
                    "tid": tid(name),
                    "args": {"until": why},
                }
            )
        running = None

    def instant(category: str, name: str, step: int, thread: str, detail: str) -> None:
        events.append(
            {
                "name": name,
                "cat": category,
                "ph": "i",
                "s": "t",
                "ts": step,
                "pid": 1,
                "tid": tid(thread),
                "args": {"detail": detail},
            }
        )

    for step, kind, thread, detail in trace["events"]:
        if kind == "switch":
            close(step, f"switch: {detail}")
            running = (detail.split(" at ")[0], step)
            continue
        if kind == "start":
            running = (thread, step)
            continue
        if kind in ("block", "end"):
            close(step, f"{kind}: {detail}" if detail else kind)
        instant("schedule", kind, step, thread, detail)
    close(trace.get("steps", 0), "run end")
    for step, thread, kind, detail in trace.get("model_events", []):
        instant("model", kind, step, thread, detail)
    for race in races:
        _arrows(race, events, tid)
    violation = trace.get("violation")
    if violation is not None:
        events.append(
            {
                "name": f"violation: {violation['invariant']}",
                "cat": "violation",
                "ph": "i",
                "s": "g",
                "ts": violation["step"],
                "pid": 1,
                "tid": tid(violation.get("thread") or "?"),
                "args": {"message": violation.get("message", "")},
            }
        )
    for name, number in threads.items():
        events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": number, "args": {"name": name}})
    events.append({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": "testbed (1 step = 1 us)"}})
    return {
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "metadata": {
            "scenario": trace["config"].get("scenario"),
            "program": trace["config"].get("program"),
            "seed": trace["seed"],
            "strategy": trace["strategy"],
        },
    }


def _arrows(race: Any, events: list[dict[str, Any]], tid: Callable[[str], int]) -> None:
    """A racing pair: an instant at each operation, and a flow arrow from the interrupted one to each other.

    An operation at step ``s`` is the point its thread reached while running
    (the slice that ends at or after ``s``): drawn at ``s - 0.5`` so the
    arrow binds to that slice.
    """

    def mark(op: Any, role: str) -> None:
        args = {"operation": op.what(), "source": op.user_site or op.model_site, "model": op.model_site}
        events.append(
            {
                "name": f"race {race.number}: {role}",
                "cat": "race",
                "ph": "i",
                "s": "t",
                "ts": op.step - 0.5,
                "pid": 1,
                "tid": tid(op.thread),
                "args": args,
            }
        )

    mark(race.preempted, "interrupted " + race.preempted.what())
    for n, op in enumerate(race.conflicting):
        mark(op, op.what())
        flow = {"name": f"race {race.number}", "cat": "race", "id": race.number * 1000 + n, "pid": 1}
        events.append(dict(flow, ph="s", ts=race.preempted.step - 0.5, tid=tid(race.preempted.thread)))
        events.append(dict(flow, ph="f", bp="e", ts=op.step - 0.5, tid=tid(op.thread)))


def write_timeline(trace: dict[str, Any], path: str | Path, races: Sequence[Any] = ()) -> int:
    """Write the timeline (``races``: racing pairs to draw as arrows); the number of events written."""
    document = chrome_trace(trace, races)
    Path(path).write_text(json.dumps(document) + "\n")
    return len(document["traceEvents"])
