"""The control run of a fault test: the faulty run's schedule, with the fault off, up to where the two differ.

A fault test's control ("the same schedule without the fault is clean") is
worth something only if it runs the same schedule.  Running the same seed
without the fault does not: the fault's branch changes which scheduling
points the threads pass, so the seed's decisions land elsewhere from the
first such point on, long before the fault did any damage.

:func:`control_run` replays the faulty run exactly while the correct model
does exactly what the faulty one did: every decision of the faulty run's
tape (checked: as many runnable threads, the turn handed to the same
thread) and every operation the threads report (thread, point kind and
detail, as the scheduler tells a ``wants_ops`` strategy).  At the first
operation or decision that differs, the faulty code path has diverged from
the correct one; from there on the run's own strategy decides (the
strategy the case names, built from the case's config as ``testbed.run``
builds it).  The control asserts that this run is clean, and
:class:`Control` says how much of the faulty run it followed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import testbed
from testbed.api import _scheduler_for
from testbed.execute import execute, replay_strategy
from testbed.sched import ControlledScheduler, Strategy, decode_tape

__all__ = ["Control", "control_run"]

Op = tuple[int, str, object]


class _Recorder(Strategy):
    """Delegates every decision to ``inner`` and records the operations the threads report."""

    wants_ops = True

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner
        self.ops: list[Op] = []

    def register(self, index: int) -> None:
        self.inner.register(index)

    def at_point(self, index: int, kind: str, detail: object) -> None:
        self.ops.append((index, kind, detail))
        self.inner.at_point(index, kind, detail)

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        return self.inner.decide(step, runnable, current, current_runnable)


class _PrefixThen(Strategy):
    """The recorded decisions while the run repeats the recorded operations; then ``then`` decides."""

    wants_ops = True

    def __init__(self, decisions: list[int], expected: list[tuple[int, int]], ops: list[Op], then: Strategy) -> None:
        self.decisions, self.expected, self.ops, self.then = decisions, expected, ops, then
        self.following = True
        self.ops_followed = 0
        self.decisions_followed = 0
        #: why the run left the faulty run's schedule (None: it never did)
        self.left: str | None = None

    def _leave(self, why: str) -> None:
        self.following = False
        self.left = why

    def register(self, index: int) -> None:
        self.then.register(index)

    def at_point(self, index: int, kind: str, detail: object) -> None:
        if self.following:
            k = self.ops_followed
            if k < len(self.ops) and self.ops[k] == (index, kind, detail):
                self.ops_followed += 1
            else:
                recorded = self.ops[k] if k < len(self.ops) else "the end of the faulty run"
                self._leave(f"operation {k}: {(index, kind, detail)} where the faulty run had {recorded}")
        if self.then.wants_ops:
            self.then.at_point(index, kind, detail)

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        if self.following:
            entry = self.decisions_followed
            if entry < len(self.decisions):
                decision = self.decisions[entry]
                # (runnable threads, the thread the decision hands the turn to), as a checked replay compares
                start = runnable.index(current) if current_runnable else 0
                found = (len(runnable), runnable[(start + decision) % len(runnable)])
                if found == self.expected[entry]:
                    self.decisions_followed += 1
                    return decision
                self._leave(f"decision {entry}: {found} where the faulty run had {self.expected[entry]}")
            else:
                self._leave(f"decision {entry}: past the faulty run's tape")
        return self.then.decide(step, runnable, current, current_runnable)


@dataclasses.dataclass
class Control:
    """The faulty run, the control run, and how far the control followed the faulty run."""

    faulty: testbed.RunResult
    result: testbed.RunResult
    faulty_ops: int
    ops_followed: int
    decisions_followed: int
    left: str | None

    def describe(self) -> str:
        where = self.left or "never left it"
        return (
            f"followed the faulty run for {self.ops_followed} of its {self.faulty_ops} operations and "
            f"{self.decisions_followed} decisions, then left it at {where}"
        )


def control_run(config: testbed.Config, tape: list[Any] | None = None) -> Control:
    """Run ``config`` (a controlled strategy, its faults on), then its control run with the faults off.

    The faulty run is the one ``testbed.run(config)`` makes (the same
    strategy, built the same way; watching its operations changes none of
    its decisions, which the callers check against the tape they expect),
    or, given a recorded trace's ``tape``, that tape's checked replay.
    """
    recorder = _Recorder(replay_strategy(tape) if tape is not None else _scheduler_for(config, None).strategy)
    faulty = execute(config, ControlledScheduler(recorder, max_steps=config.max_steps))
    assert faulty.trace is not None
    decisions, expected = decode_tape(faulty.trace["tape"])
    clean = config.replace(faults=frozenset())
    prefix = _PrefixThen(list(decisions), list(expected), recorder.ops, _scheduler_for(clean, None).strategy)
    result = execute(clean, ControlledScheduler(prefix, max_steps=clean.max_steps))
    return Control(faulty, result, len(recorder.ops), prefix.ops_followed, prefix.decisions_followed, prefix.left)
