"""A checked replay that watches: every point's operation and every preemption of the tape.

Explaining a failing schedule (``testbed explain`` for model traces,
``ExploreResult.explain`` for users' threads) needs the same record of one
replay: which thread reached which point, announcing which operation, from
which source line, and where the tape switched away from a thread that
could have gone on.  :class:`WatchedReplay` is that replay: the decisions
are the tape's (a :class:`ReplayStrategy`, checked entry by entry), and the
scheduler reports every point to it (``wants_ops``).  What a "source line"
is differs by caller (the model's frame and the user's, or the first frame
outside the scheduler), so the caller passes ``where``, which reads the
frame that called the point.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from testbed.sched._strategies import ReplayStrategy

__all__ = ["Preemption", "WatchedReplay"]

#: (index into ``points`` when it happened, tape entry, step, preempted thread, chosen thread)
Preemption = tuple[int, int, int, int, int]


class WatchedReplay(ReplayStrategy):
    """A checked replay of ``tape`` that keeps every point and every preemption."""

    wants_ops = True

    def __init__(
        self,
        tape: Sequence[int],
        expected: Sequence[tuple[int, int]] | None,
        where: Callable[[FrameType], Any],
    ) -> None:
        super().__init__(tape, expected)
        self._where = where
        #: (thread index, kind, detail, ``where`` of the calling frame), one per point, in the order reached
        self.points: list[tuple[int, str, Any, Any]] = []
        self.preemptions: list[Preemption] = []

    def at_point(self, index: int, kind: str, detail: object) -> None:
        self.points.append((index, kind, detail, self._where(sys._getframe(1))))

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        entry = self._next
        decision = super().decide(step, runnable, current, current_runnable)
        if current_runnable and decision % len(runnable):
            here = runnable.index(current)
            chosen = runnable[(here + decision) % len(runnable)]
            self.preemptions.append((len(self.points), entry, step, current, chosen))
        return decision
