"""Following a free run's recorded order under a controlled scheduler (pinning).

A free run (:class:`~testbed.sched.FreeScheduler` with recording) keeps the
order in which its threads passed their scheduling points.  To turn that
into an exact, replayable schedule, the same workload runs under a
controlled scheduler whose strategy follows the recording: every thread's
*pending operation* (the one after the point it is parked at) carries the
recorded time (global position in the free run's order) of that point, and
the runnable thread whose pending operation came first in the free run
goes next.  Where both runs agree point for point, that is the free run's
order exactly; where they do not (the free run switched between two points,
a thread blocked here that did not there, a loop ran another number of
times), the same rule still gives an order close to the recorded one
rather than giving up: a point of a thread is matched to the next recorded
point of the same kind within a small window (a point with no match keeps
the time of the last matched one).  Threads are matched by name, never by
index, so a run that spawns its threads in another order still follows.

Where following alone does not reproduce the finding, :mod:`testbed.pinning`
searches around it, deterministically: the recorded times perturbed by
seeded noise (``jitter``: a random walk around the recorded order), and
the recorded order up to a point followed by partial-order sampling
(``follow_until`` and ``fallback``, :class:`~testbed.sched.POSStrategy`).

This mirrors no V8 mechanism; it is the replay half of record-and-replay
tools (rr records one process by serializing it; here the free run is not
serialized, so its order is a guide, and the search closes the gap).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from testbed.sched._points import active_scheduler
from testbed.sched._strategies import Strategy

__all__ = ["FollowStrategy"]

#: how far ahead a point looks for the next recorded point of its kind (a longer gap is an extra point)
WINDOW = 32
#: point kinds whose number depends on timing, not on the workload: polls of the interrupt flag and
#: synchronization (a contended lock, a wait that was or was not needed)
VOLATILE = frozenset(
    {
        "interrupt-test",
        "interrupt-set",
        "lock-acquire",
        "condition-wait",
        "condition-notify",
        "event-set",
        "event-clear",
        "event-wait",
        "semaphore-acquire",
        "semaphore-release",
        "barrier-wait",
    }
)


class FollowStrategy(Strategy):
    """Runs the runnable thread whose pending operation came first in a recorded free run.

    ``threads``, ``kinds`` and ``order`` are a free trace's fields (names by
    recorded index, point kinds, ``[thread, kind, repeat]`` runs).  With
    ``jitter`` > 0 each pending time gets Gaussian noise of that standard
    deviation (in points of the recorded order), drawn from ``seed``.
    With ``follow_until`` the recording is followed for that many points
    (all threads together) and ``fallback`` decides from then on; it sees
    every thread and every point from the start, so its state is whole.
    """

    name = "follow"
    wants_ops = True

    def __init__(
        self,
        threads: Sequence[str],
        kinds: Sequence[str],
        order: Sequence[Sequence[int]],
        seed: int = 0,
        jitter: float = 0.0,
        follow_until: int | None = None,
        fallback: Strategy | None = None,
    ) -> None:
        if (follow_until is None) != (fallback is None):
            raise ValueError("follow_until and fallback go together")
        self._by_name = {name: index for index, name in enumerate(threads)}
        self._codes = {kind: code for code, kind in enumerate(kinds)}
        self._volatile = frozenset(code for code, kind in enumerate(kinds) if kind in VOLATILE)
        #: per recorded thread: the global position and the kind code of each of its points
        self._times: list[list[int]] = [[] for _ in threads]
        self._kinds: list[list[int]] = [[] for _ in threads]
        position = 0
        for thread, kind, repeat in order:
            self._times[thread].extend(range(position, position + repeat))
            self._kinds[thread].extend([kind] * repeat)
            position += repeat
        self._end = float(position)
        self._rng = random.Random(seed)
        self._jitter = jitter
        self._until = follow_until
        self._fallback = fallback
        self._passed = 0
        #: per controlled thread (registration index): its recorded thread, next recorded point, pending time
        self._recorded: dict[int, int | None] = {}
        self._cursor: dict[int, int] = {}
        self._pending: dict[int, float] = {}
        #: points matched to a recorded point of the same kind, and points not matched
        self.matched = 0
        self.unmatched = 0

    def register(self, index: int) -> None:
        names = active_scheduler().thread_names()
        recorded = self._by_name.get(names[index]) if index < len(names) else None
        self._recorded[index] = recorded
        self._cursor[index] = 0
        times = self._times[recorded] if recorded is not None else []
        # Not started: it runs up to its first point when that point's turn comes.
        self._pending[index] = times[0] - 0.5 if times else self._end
        if self._fallback is not None:
            self._fallback.register(index)

    def at_point(self, index: int, kind: str, detail: object) -> None:
        self._passed += 1
        if self._fallback is not None:
            self._fallback.at_point(index, kind, detail)
        recorded = self._recorded.get(index)
        if recorded is None:
            return
        at = self._match(self._kinds[recorded], self._cursor[index], self._codes.get(kind, -1), kind in VOLATILE)
        if at is None:
            self.unmatched += 1  # an extra point: it keeps the time of the last matched one
            return
        self._cursor[index] = at + 1
        time = float(self._times[recorded][at])
        if self._jitter:
            time += self._rng.gauss(0.0, self._jitter)
        self._pending[index] = time
        self.matched += 1

    def _match(self, kinds: list[int], cursor: int, code: int, volatile: bool) -> int | None:
        """The recorded point a point of kind ``code`` stands for, at or after ``cursor`` (None: an extra one).

        Skipping recorded points of volatile kinds (whose number depends on
        timing) is preferred; a volatile point that matches nothing nearby is
        an extra one; any other point may skip anything within the window.
        """
        end = min(cursor + WINDOW, len(kinds))
        for at in range(cursor, end):
            if kinds[at] == code:
                return at
            if kinds[at] not in self._volatile:
                break
        if volatile:
            return None
        for at in range(cursor, end):
            if kinds[at] == code:
                return at
        return None

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        if self._until is not None and self._passed >= self._until:
            assert self._fallback is not None
            return self._fallback.decide(step, runnable, current, current_runnable)
        pending = self._pending
        position = min(range(len(runnable)), key=lambda i: (pending.get(runnable[i], self._end), runnable[i]))
        if not current_runnable:
            return position
        return (position - runnable.index(current)) % len(runnable)
