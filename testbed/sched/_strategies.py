"""Strategies: who runs next at a scheduling point of a controlled run.

A decision is a small integer, read relative to the thread that holds the
turn: 0 means "keep running the current thread", k > 0 means "switch to
the k-th other runnable thread" (counting from the current one, in
registration order, wrapping around).  When the current thread cannot go
on (it blocked or ended) the decision simply indexes the runnable threads.
Decisions are taken modulo the number of choices, so any sequence of
integers is a valid schedule: that is what lets Hypothesis shrink a tape
freely, and why a shorter tape (the rest read as 0) removes preemptions.

A decision is consumed only where there is a real choice (two or more
runnable threads), so the tape is exactly the schedule's degrees of freedom.

Strategies after the literature: ``random`` (a seeded random walk, as in
Shuttle and Fray), ``pct`` (Burckhardt, Kothari, Musuvathi, Nagarakatte,
"A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs",
ASPLOS 2010: random thread priorities plus d-1 random priority change
points), ``replay`` (a recorded tape).  ``NoPreemptionStrategy`` never
preempts: it is the probe run that measures a config's length for PCT.

A replay tape may carry expectations: for each decision, how many threads
were runnable and which thread (by registration index) ran after it.  A
checked replay compares both at every decision and raises
:class:`~testbed.sched.ReplayDiverged` at the first mismatch; without
expectations (Hypothesis-drawn tapes, shrink candidates, a hand-written
list) any tape is a valid schedule, as above.

Most decisions are 0, and asking for each one would make every point a
method call.  So a strategy also says how many of the coming decisions it
already knows to be 0 (:meth:`Strategy.quiet`): a random walk its geometric
gap to the next switch, PCT the steps to its next change point while the
running thread has the highest priority, a replay the zeros left in its
current run.  The scheduler passes those points at the cost of a counter
increment and a compare, and reports the decisions it took for the strategy
with :meth:`Strategy.skip`.  The answer holds only while the runnable set
stays the same: the scheduler asks again whenever it changes.
"""

from __future__ import annotations

import bisect
import math
import random
import sys
from collections.abc import Sequence
from typing import NoReturn

from testbed.sched._halts import ReplayDiverged

__all__ = ["NEVER", "NoPreemptionStrategy", "PCTStrategy", "RandomStrategy", "ReplayStrategy", "Strategy"]

#: a :meth:`Strategy.quiet` answer meaning "every coming decision is 0"
NEVER = sys.maxsize


class Strategy:
    """Chooses among ``choices`` runnable threads (the current one first if runnable)."""

    name = "strategy"
    #: whether the scheduler reports every point to :meth:`at_point` (read
    #: once, when the scheduler is built: strategies that do not need it pay nothing)
    wants_ops = False

    def register(self, index: int) -> None:
        """A thread with registration index ``index`` joined the run."""

    def at_point(self, index: int, kind: str, detail: object) -> None:
        """Thread ``index`` reached ``point(kind, detail)``: its previous operation executed (``wants_ops`` only)."""

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        """The decision at ``step``; ``runnable`` lists runnable thread indices in order."""
        raise NotImplementedError

    def quiet(self, step: int, runnable: Sequence[int], current: int) -> int:
        """How many of the decisions after ``step`` are surely 0 (:data:`NEVER`: all of them).

        Asked right after a decision at ``step`` that kept ``current``
        running, with ``runnable`` (two or more threads) unchanged since: the
        answer must hold for as long as it stays so.  The scheduler takes
        those decisions without asking and reports them with :meth:`skip`.
        0 (the default) asks at every decision.
        """
        return 0

    def skip(self, count: int) -> None:
        """``count`` decisions that :meth:`quiet` announced were taken as 0, without asking."""


class ReplayStrategy(Strategy):
    """Replays a tape; past its end every decision is 0.

    With ``expected`` (one ``(runnable, thread)`` pair per decision, as
    :meth:`ControlledScheduler.recorded_tape` gives them) every decision is
    checked first: the number of runnable threads, and the registration
    index of the thread the decision hands the turn to.  The first mismatch
    raises :class:`ReplayDiverged` (kept in :attr:`diverged`), and so does
    a decision asked for past the tape's end.  From then on every decision
    is 0, unchecked: the run is being aborted, and keeping the current
    thread is the fewest switches on the way to its end.
    """

    name = "replay"

    def __init__(self, tape: Sequence[int], expected: Sequence[tuple[int, int]] | None = None) -> None:
        self.tape = list(tape)
        if expected is not None and len(expected) != len(self.tape):
            raise ValueError(f"{len(expected)} expectations for a tape of {len(self.tape)} decisions")
        # Two flat lists, not a list of pairs: a long tape stays small.
        self._runnable = None if expected is None else [n for n, _ in expected]
        self._chosen = None if expected is None else [t for _, t in expected]
        self._next = 0
        #: the first divergence of a checked replay
        self.diverged: ReplayDiverged | None = None
        # The end of the zero run :meth:`quiet` last measured, and for which
        # (runnable, thread) it was measured: asked again inside the same
        # run (the runnable set changed and changed back), it does not rescan.
        self._quiet_run: tuple[int, int, int] = (-1, -1, -1)

    @property
    def checked(self) -> bool:
        """Whether decisions are still being compared with the tape's expectations."""
        return self._runnable is not None and self.diverged is None

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        if self.diverged is not None:
            return 0
        entry = self._next
        if entry >= len(self.tape):
            if self._runnable is not None:
                # The recorded run made no further decision: this run is another one.
                found = self._found(runnable, current, current_runnable, 0)
                self._diverge(ReplayDiverged(step, entry, None, found, len(self.tape)))
            return 0
        decision = self.tape[entry]
        if self._runnable is not None:
            assert self._chosen is not None
            found = self._found(runnable, current, current_runnable, decision)
            if found[0] != self._runnable[entry] or found[1] != self._chosen[entry]:
                expected = (self._runnable[entry], self._chosen[entry])
                self._diverge(ReplayDiverged(step, entry, expected, found, len(self.tape)))
        self._next = entry + 1
        return decision

    def quiet(self, step: int, runnable: Sequence[int], current: int) -> int:
        if self.diverged is not None:
            return NEVER  # aborting: every decision is 0, unchecked
        tape, entry = self.tape, self._next
        if self._runnable is None:
            end = entry
            while end < len(tape) and tape[end] == 0:
                end += 1
            return NEVER if end == len(tape) else end - entry
        # Checked: a zero decision is taken unasked only if it also expects
        # what this run has (this many runnable threads, the turn kept).
        assert self._chosen is not None
        choices = len(runnable)
        cached_end, cached_choices, cached_current = self._quiet_run
        if cached_choices == choices and cached_current == current and entry <= cached_end:
            return cached_end - entry
        expected_runnable, expected_chosen = self._runnable, self._chosen
        end = entry
        while (
            end < len(tape) and tape[end] == 0 and expected_runnable[end] == choices and expected_chosen[end] == current
        ):
            end += 1
        # The entry at ``end`` (a switch, another expectation, or past the
        # tape, which a checked replay reports) is asked for and checked.
        self._quiet_run = (end, choices, current)
        return end - entry

    def skip(self, count: int) -> None:
        self._next += count

    @staticmethod
    def _found(runnable: Sequence[int], current: int, current_runnable: bool, decision: int) -> tuple[int, int]:
        """(runnable threads, the thread ``decision`` hands the turn to) in this run."""
        choices = len(runnable)
        start = runnable.index(current) if current_runnable else 0
        return choices, runnable[(start + decision) % choices]

    def _diverge(self, halt: ReplayDiverged) -> NoReturn:
        self.diverged = halt
        raise halt

    def leftover(self, step: int) -> ReplayDiverged | None:
        """After the run: the divergence of a checked run that ended with decisions left on its tape."""
        if not self.checked or self._next >= len(self.tape):
            return None
        assert self._runnable is not None and self._chosen is not None
        expected = (self._runnable[self._next], self._chosen[self._next])
        self.diverged = ReplayDiverged(step, self._next, expected, None, len(self.tape))
        return self.diverged


class NoPreemptionStrategy(Strategy):
    """Never preempts: the current thread keeps running while it can.

    When it cannot (it blocked or ended) the first runnable thread in
    registration order gets the turn, so the run is a function of the
    config alone.  Its step count is the length PCT places its change
    points in (the probe run of ``testbed.run``).
    """

    name = "no-preemption"

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        return 0

    def quiet(self, step: int, runnable: Sequence[int], current: int) -> int:
        return NEVER


class RandomStrategy(Strategy):
    """At each choice, switch with probability ``switch_probability`` to a uniform other thread.

    The coin is not tossed at every decision: the number of decisions up to
    the next switch is drawn at once, from the geometric distribution the
    tosses would give (memoryless, so the same walk), and the decisions in
    between are 0 without asking (:meth:`quiet`).  Where the running thread
    cannot go on (it blocked or ended), the next one is uniform among the
    runnable threads, and the gap runs on.
    """

    name = "random"

    def __init__(self, seed: int, switch_probability: float = 0.1) -> None:
        if not 0.0 <= switch_probability <= 1.0:
            raise ValueError(f"switch_probability must be in [0, 1], got {switch_probability}")
        self._rng = random.Random(seed)
        self._p = switch_probability
        # log(1 - p), for inverting the geometric distribution's CDF
        self._log_stay = math.log1p(-switch_probability) if 0.0 < switch_probability < 1.0 else 0.0
        #: decisions left that keep the current thread before the next switch
        self._gap = self._draw_gap()

    def _draw_gap(self) -> int:
        """Failures before the first success of Bernoulli(p) trials, drawn at once."""
        p = self._p
        if p >= 1.0:
            return 0
        if p <= 0.0:
            return NEVER
        # 1 - random() is in (0, 1]: log is finite.
        return int(math.log(1.0 - self._rng.random()) / self._log_stay)

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        rng = self._rng
        if not current_runnable:
            return rng.randrange(len(runnable))
        if self._gap > 0:
            self._gap -= 1
            return 0
        self._gap = self._draw_gap()
        return rng.randrange(1, len(runnable))

    def quiet(self, step: int, runnable: Sequence[int], current: int) -> int:
        return self._gap

    def skip(self, count: int) -> None:
        self._gap -= count


class PCTStrategy(Strategy):
    """Probabilistic concurrency testing with bug depth ``depth``.

    Each thread gets a random initial priority above ``depth``; ``depth - 1``
    change points k_1 .. k_{d-1} are drawn uniformly from the first
    ``horizon`` steps; at k_i the running thread's priority drops to i.  The
    highest-priority runnable thread always runs.

    As in the paper (Burckhardt et al., "A Randomized Scheduler with
    Probabilistic Guarantees of Finding Bugs", ASPLOS 2010, Algorithm 1),
    the k_i are drawn independently, so which change point comes first in
    time is random too: a thread lowered later does not always outrank one
    lowered earlier.  (Numbering them in time order instead, as this class
    once did, can never produce the schedules where the thread lowered
    first must run before the one lowered second.)
    """

    name = "pct"

    def __init__(self, seed: int, depth: int = 3, horizon: int = 20_000) -> None:
        if depth < 1:
            raise ValueError(f"pct depth must be at least 1, got {depth}")
        self._rng = random.Random(seed)
        self._depth = depth
        self._priority: dict[int, float] = {}
        # k_1 .. k_{d-1} in draw order: k_i assigns the low priority i
        drawn = self._rng.sample(range(1, max(horizon, depth) + 1), depth - 1)
        # change point step -> the low priority it assigns (1 .. depth-1)
        self._changes = {step: float(i + 1) for i, step in enumerate(drawn)}
        self._change_steps = sorted(drawn)

    def register(self, index: int) -> None:
        # Distinct random priorities above every change-point priority.
        self._priority[index] = self._depth + self._rng.random()

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        low = self._changes.get(step)
        if low is not None and current in self._priority:
            self._priority[current] = low
        best = max(runnable, key=lambda t: self._priority.get(t, 0.0))
        position = runnable.index(best)
        if not current_runnable:
            return position
        # Express the choice relative to the current thread (0 = keep running).
        here = runnable.index(current)
        return (position - here) % len(runnable)

    def quiet(self, step: int, runnable: Sequence[int], current: int) -> int:
        # The highest priority keeps running until a change point lowers it
        # (priorities change nowhere else); anyone else is switched away from
        # at once.
        priority = self._priority
        mine = priority.get(current, 0.0)
        if any(priority.get(t, 0.0) > mine for t in runnable):
            return 0
        later = bisect.bisect_right(self._change_steps, step)
        if later == len(self._change_steps):
            return NEVER
        return self._change_steps[later] - step - 1
