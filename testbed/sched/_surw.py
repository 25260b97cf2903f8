"""SURW: selectively uniform random walk over schedules.

After Huan Zhao, Dylan Wolff, Umang Mathur, Abhik Roychoudhury,
"Selectively Uniform Concurrency Testing", ASPLOS 2025.  A plain random
walk favours schedules that switch early and rarely reach the interleavings
deep in a long thread; SURW samples the interleavings of the *interesting*
events uniformly by picking each runnable thread with probability
proportional to the number of interesting events it has left.  Those
counts are estimated by a profiling run of the same program
(:class:`SURWProfile`, a run that never preempts), then decremented as
each thread reaches its events.

Here the interesting events are the points on the model's shared data:
every kind of :data:`~testbed.sched._pos.CONFLICTS` except the
synchronization primitives (:data:`INTERESTING`).
The walk switches only there (and when the running thread blocks or
ends): any other point keeps the running thread, so "selective" also
means fewer, better-placed switches.

For user code run by :func:`~testbed.sched.explore` (``user=True``) the
interesting events are every point that is not an operation of a
synchronization primitive: the user's own ``point()`` calls, with or
without a named object, whatever their labels (the model's table knows
none of them).  And there the walk keeps the paper's Gamma-completeness
(every interleaving stays possible), as Fray's ``SURWScheduler`` does
(cmu-pasta/fray, core/.../scheduler/SURWScheduler.kt): at each decision a
runnable thread is drawn uniformly; one whose next operation is not
interesting simply runs, one whose next operation is interesting runs
only if it is the *intended* thread (drawn by the weights, kept until it
runs), else it is set aside until the intended thread has run.  Without
that, a switch between two lock operations never happens: SURW could not
reach twostage_3's bug (bench/sctbench; the window is between
``funcA``'s two critical sections), 0 of 5 seeds within 1,000 schedules.
The model's walk (``user=False``) keeps its measured behaviour (switch
only at interesting points; docs/ablation.md's rates are for it).

``power`` raises each weight to that power (the paper's walk is power 1).
Above 1 the walk favours the threads with the most events left, so the
threads advance more nearly in step: the interleavings that alternate
threads many times, which a uniform draw over all interleavings rarely
gives, become common.  fib_bench (bench/sctbench) needs its two threads to
alternate perfectly ten times: 1 interleaving in 577, found by power 1 in
a median of about 290 schedules, by power 2 in about 120 and by power 4 in
about 20; bugs that need one thread to run far ahead of the others get
correspondingly rarer (twostage_3: about 130 at power 1, 260 at power 4).
Every interleaving stays possible at any power.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from testbed.sched._pos import CONFLICTS, SYNC_FAMILIES, resource
from testbed.sched._strategies import NoPreemptionStrategy, Strategy

__all__ = ["INTERESTING", "SURWProfile", "SURWStrategy", "interesting"]

#: the point kinds SURW counts and switches at: accesses to the model's shared data
INTERESTING = frozenset(kind for kind, (family, _, _) in CONFLICTS.items() if family not in SYNC_FAMILIES)


def interesting(kind: str, detail: object, user: bool) -> bool:
    """Whether SURW counts and switches at ``point(kind, detail)`` (``user``: any point but a primitive's)."""
    if kind in INTERESTING:
        return True
    return user and resource(kind, detail)[0] not in SYNC_FAMILIES


class SURWProfile(NoPreemptionStrategy):
    """The profiling run: never preempts, counts each thread's interesting points."""

    name = "surw-profile"
    wants_ops = True

    def __init__(self, user: bool = False) -> None:
        #: interesting points reached, by thread registration index
        self.counts: list[int] = []
        self._user = user

    def register(self, index: int) -> None:
        while len(self.counts) <= index:
            self.counts.append(0)

    def at_point(self, index: int, kind: str, detail: object) -> None:
        if interesting(kind, detail, self._user):
            self.counts[index] += 1


class SURWStrategy(Strategy):
    """Weights each runnable thread by its remaining interesting points (profiled minus reached, at least 1),
    raised to ``power``."""

    name = "surw"
    wants_ops = True

    def __init__(self, seed: int, profile: Sequence[int], user: bool = False, power: int = 1) -> None:
        self._rng = random.Random(seed)
        self._user = user
        self._power = power
        self._profile = list(profile)
        #: interesting points reached so far, by thread
        self._reached: dict[int, int] = {}
        #: whether each thread's pending point is interesting
        self._interesting: dict[int, bool] = {}
        #: user mode: the thread whose interesting operation goes next (-1: none drawn yet)
        self._intended = -1
        #: user mode: threads set aside (their next operation is interesting, not the intended one's)
        self._aside: set[int] = set()

    def register(self, index: int) -> None:
        self._reached[index] = 0
        self._interesting[index] = True  # its first turn is a choice

    def at_point(self, index: int, kind: str, detail: object) -> None:
        counted = interesting(kind, detail, self._user)
        self._interesting[index] = counted
        if counted:
            self._reached[index] += 1

    def _remaining(self, index: int) -> int:
        profiled = self._profile[index] if index < len(self._profile) else 0
        return max(profiled - self._reached.get(index, 0), 1) ** self._power

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        if self._user:
            position = runnable.index(self._complete(runnable))
        elif current_runnable and not self._interesting.get(current, True):
            return 0
        else:
            weights = [self._remaining(t) for t in runnable]
            position = self._rng.choices(range(len(runnable)), weights)[0]
        if not current_runnable:
            return position
        return (position - runnable.index(current)) % len(runnable)

    def _complete(self, runnable: Sequence[int]) -> int:
        """The thread to run, drawn the Gamma-complete way (see the module docstring)."""
        while True:
            free = [t for t in runnable if t not in self._aside]
            if not free:  # the intended thread blocked or ended: draw afresh
                self._aside.clear()
                self._intended = -1
                continue
            pick = free[self._rng.randrange(len(free))]
            if not self._interesting.get(pick, True):
                return pick
            if self._intended not in free:
                weights = [self._remaining(t) for t in free]
                self._intended = free[self._rng.choices(range(len(free)), weights)[0]]
            if pick == self._intended:
                self._intended = -1
                self._aside.clear()
                return pick
            self._aside.add(pick)
