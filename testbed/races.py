"""The racing pair behind each preemption of a trace: what was interrupted, what ran in between.

``testbed explain TRACE`` (``testbed replay TRACE --explain``) replays a
controlled trace, checked, under a replay strategy that also watches every
scheduling point (``wants_ops``: the decisions are the tape's, only the
points are reported), and keeps for each point the thread, the operation
the point announces (``point(kind, detail)`` precedes the shared access
it names: a remembered-set insert for object #12, a forwarding store of
#40, a weak-list unlink of code #7...) and two source lines taken from the
frame at the point: the model's (the first frame outside the scheduler)
and, for a custom program, the user's (the first frame outside the
package and the standard library).  Perfetto-style race reports (TSan's
"previous write ... current read") pair two accesses the same way.

For every preemption (a nonzero decision while the current thread could
go on) it reports the operation the preempted thread was about to do and
the conflicting operations other threads did before it resumed: those on
the same resource (the same object, slot cell, bucket or list) by kind
family.  None of this is guessed from the violation: each preemption is
also checked necessary by a run of its own, the same tape with that one
decision set to 0 ("keep running"); a shrunk, 1-minimal trace has only
necessary ones, and one that is not necessary is reported as such.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from testbed.campaign.buckets import role, signature_of
from testbed.execute import RunResult, execute, replay_run
from testbed.heap.slot_set import CELL_BITS
from testbed.runtime import Config
from testbed.sched import ControlledScheduler, WatchedReplay, decode_tape

__all__ = ["Op", "Race", "explain_races", "pair_key", "race_lines"]

_PACKAGE = Path(__file__).resolve().parent
_SCHED = _PACKAGE / "sched"
_STDLIB = Path(threading.__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Op:
    """One scheduling point: ``thread`` was about to do ``kind`` on ``detail``."""

    step: int
    thread: str
    kind: str
    detail: Any
    #: where the model does it (``testbed/heap/remembered_set.py:73``)
    model_site: str
    #: where a custom program asked for it (None: the standard program)
    user_site: str | None

    def what(self) -> str:
        return describe(self.kind, self.detail)


@dataclasses.dataclass
class Race:
    """One preemption: the interrupted operation, the conflicting ones before it resumed, whether it is needed."""

    number: int
    #: the decision's index on the tape
    entry: int
    preempted: Op
    #: the step at which the preempted thread ran again (None: not before the run ended)
    resumed: int | None
    conflicting: list[Op]
    #: what the run found with this decision set to 0 (None: no violation)
    without: str | None
    necessary: bool


# What a point's operation is, in words ({} is the detail).
_WORDS = {
    "remset-record": "remembered-set insert for object #{}",
    "remset-clear": "remembered-set clear of object #{}",
    "remset-scan": "remembered-set scan of object #{}",
    "slot-set-read-cell": "slot-set read of the cell of slot {}",
    "slot-set-write-cell": "slot-set write of the cell of slot {}",
    "slot-set-clear-cell": "slot-set clear in the cell of slot {}",
    "slot-set-read-bucket": "slot-set read of bucket {}",
    "slot-set-publish-bucket": "slot-set publish of bucket {}",
    "forwarding-cas": "forwarding (CAS) of #{}",
    "forwarding-store": "forwarding of #{}",
    "weak-list-read-head": "weak-list head read",
    "weak-list-write-head": "weak-list link of code #{}",
    "weak-list-unlink": "weak-list unlink of code #{}",
    "store-buffer-append": "store-buffer append for object #{}",
    "store-buffer-flush": "store-buffer flush ({} entries)",
    "store-buffer-clear": "store-buffer clear for object #{}",
    "field-store": "field store into #{}",
    "layout-change": "layout change of #{}",
    "object-set-map": "map change of #{}",
    "sweep-read-size": "sweeper read of #{}",
    "sweep-free": "sweeper free of #{}",
    "mark-object": "marking of #{}",
    "code-release": "release of code #{}",
    "code-embedded-read": "embedded-object read of code #{}",
    "code-embedded-write": "embedded-object clear of code #{}",
    "deopt-mark-code": "deopt mark of code #{}",
    "deopt-check-mark": "deopt mark check of code #{}",
    "function-code-read": "code read of function {}",
    "function-code-write": "code install of function {}",
}
# The resource a kind touches, where the kind's first word does not say it.
_RESOURCE = {
    "slot-set-read-cell": "slot cell",
    "slot-set-write-cell": "slot cell",
    "slot-set-clear-cell": "slot cell",
    "slot-set-read-bucket": "slot bucket",
    "slot-set-publish-bucket": "slot bucket",
    "code-embedded-read": "embedded",
    "code-embedded-write": "embedded",
    "deopt-mark-code": "code mark",
    "deopt-check-mark": "code mark",
}
# Kinds whose detail is a count, not the identity of what they touch.
_COUNTS = frozenset({"store-buffer-flush", "new-space-lab", "old-space-lab", "weak-list-read-head"})


def describe(kind: str, detail: Any) -> str:
    words = _WORDS.get(kind)
    if words is None:
        return kind if detail is None else f"{kind} {detail}"
    return words.format(detail) if "{}" in words else words


def _resource(kind: str) -> str:
    return _RESOURCE.get(kind, kind.split("-", 1)[0])


def _identity(kind: str, detail: Any) -> Any:
    """What the operation touches: a slot's cell is one word of bits for CELL_BITS slots (addresses are
    per page, and the point does not name the page: two pages' cells can look alike)."""
    if _RESOURCE.get(kind) == "slot cell" and isinstance(detail, int):
        return detail // CELL_BITS
    return detail


def conflicts(a: Op, b: Op) -> bool:
    """Whether ``b`` touches what ``a`` touches: the same resource, and the same object when both name one."""
    if a.thread == b.thread or _resource(a.kind) != _resource(b.kind):
        return False
    if a.kind in _COUNTS or b.kind in _COUNTS or a.detail is None or b.detail is None:
        return True
    return bool(_identity(a.kind, a.detail) == _identity(b.kind, b.detail))


def _site(frame: FrameType) -> str:
    path = Path(frame.f_code.co_filename)
    shown = path.relative_to(_PACKAGE.parent) if path.is_relative_to(_PACKAGE.parent) else path
    return f"{shown}:{frame.f_lineno} ({frame.f_code.co_name})"


def _sites(frame: FrameType | None) -> tuple[str, str | None]:
    """The model's source line (first frame outside the scheduler, with its caller in another file),
    and the user's (first frame outside the package and the standard library; None: there is none)."""
    model: str | None = None
    model_file: str | None = None
    while frame is not None:
        path = Path(frame.f_code.co_filename).resolve()
        if not path.is_relative_to(_PACKAGE) and not path.is_relative_to(_STDLIB):
            return model or _site(frame), _site(frame)
        if model is None and model_file is None and not path.is_relative_to(_SCHED):
            model, model_file = _site(frame), frame.f_code.co_filename
        elif model_file and frame.f_code.co_filename != model_file:
            model, model_file = f"{model} <- {_site(frame)}", None
        frame = frame.f_back
    return model or "?", None


def _signature_text(result: RunResult) -> str | None:
    if not result.violations:
        return None
    found = signature_of(result.violations[0], result.events)
    return f"{found.invariant} at {found.operation} (roles {', '.join(found.roles)})"


def explain_races(trace: dict[str, Any], config: Config, check: bool = True) -> tuple[RunResult, list[Race]]:
    """Replay ``trace`` (checked) under ``config`` watching every point; its racing pairs, each checked
    necessary by a run without it (``check``; without, for a trace known 1-minimal, each is taken as
    necessary, which its shrink showed, and ``without`` is None)."""
    watching = WatchedReplay(*decode_tape(trace["tape"]), _sites)
    result = execute(config, ControlledScheduler(watching, max_steps=config.max_steps))
    names = trace["threads"]
    ops = [
        Op(step + 1, names[i], kind, detail, *sites) for step, (i, kind, detail, sites) in enumerate(watching.points)
    ]
    decisions = list(watching.tape)
    expected = _signature_text(result)
    races = []
    for number, (_at, entry, step, thread, _chosen) in enumerate(watching.preemptions, 1):
        preempted = ops[step - 1]
        resumed = next((op.step for op in ops[step:] if op.thread == names[thread]), None)
        window = ops[step : (resumed - 1 if resumed is not None else len(ops))]
        calm = [*decisions[:entry], 0, *decisions[entry + 1 :]]
        without = _signature_text(replay_run(config, calm)) if check else None
        races.append(
            Race(
                number,
                entry,
                preempted,
                resumed,
                [op for op in window if conflicts(preempted, op)],
                without,
                without != expected,
            )
        )
    return result, races


def _op_line(op: Op) -> str:
    where = op.model_site if op.user_site is None else f"{op.user_site}, in the model {op.model_site}"
    return f"{op.thread} step {op.step}: {op.what()} at {where}"


def race_lines(result: RunResult, races: list[Race]) -> list[str]:
    """The racing pairs in words, ending with the violation they lead to."""
    if not races:
        return ["no preemption in this trace: the violation needs no switch away from a runnable thread"]
    lines = [f"{len(races)} preemption(s); for each, what was interrupted and what ran before it resumed:"]
    for race in races:
        need = (
            f"necessary: without it the run finds {race.without or 'no violation'}"
            if race.necessary
            else "NOT necessary: without it the run breaks the same way (shrink the trace)"
        )
        lines.append(f"preemption {race.number} (tape entry {race.entry}), {need}")
        lines.append(f"  interrupted: {_op_line(race.preempted)}")
        until = f"before it resumed at step {race.resumed}" if race.resumed else "before the run ended"
        if race.conflicting:
            lines.append(f"  racing with, {until}:")
            lines.extend(f"    {_op_line(op)}" for op in race.conflicting[:6])
            if len(race.conflicting) > 6:
                lines.append(f"    ... and {len(race.conflicting) - 6} more")
        else:
            lines.append(f"  no operation on the same resource {until}: this switch matters by what ran first")
    if result.violations:
        v = result.violations[0]
        lines.append(f"so: {v.invariant} on {v.thread} at step {v.step}: {v.message.split('; ')[0]}")
    return lines


#: operations of the synchronization protocol (the scheduler's primitives, the safepoint's interrupt flag)
#: and of thread-local state (a mutator's own store buffer, its LAB refills): they order a race, they are
#: not the data race itself, so two findings of one bug may differ in them
_NOT_DATA = (
    "lock-",
    "condition-",
    "event-",
    "semaphore-",
    "barrier-",
    "timer-",
    "queue-",
    "interrupt-",
    "store-buffer-",
)
_LOCAL = frozenset({"new-space-lab", "old-space-lab"})


def _data(kind: str) -> bool:
    return not kind.startswith(_NOT_DATA) and kind not in _LOCAL


def pair_key(races: list[Race]) -> tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]:
    """The data racing pairs of a trace without ids or steps: per necessary preemption that interrupted
    an access to shared data and has conflicting accesses, (role of the preempted thread, its operation's
    kind, the (role, kind) of each conflicting one); sorted.  Two findings with the same key race the same
    accesses against each other, whatever invariant saw the damage first and whatever synchronization
    set the race up.  Empty: no data racing pair to compare.
    """
    pairs = set()
    for race in races:
        if race.necessary and _data(race.preempted.kind):
            others = tuple(sorted({(role(op.thread), op.kind) for op in race.conflicting if _data(op.kind)}))
            if others:
                pairs.add((role(race.preempted.thread), race.preempted.kind, others))
    return tuple(sorted(pairs))
