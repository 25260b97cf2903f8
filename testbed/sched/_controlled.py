"""Controlled mode: real OS threads, one at a time, the strategy picks who runs.

Each model thread (mutator, later GC worker or sweeper) is registered when
it is spawned and owns a *baton*, a raw lock it blocks on while it does not
hold the turn.  At every scheduling point the running thread asks the
strategy; keeping the turn is a plain check with no lock touched, handing
it over is "release the next thread's baton, then block on my own".  This
is how Fray and Shuttle serialize real threads; the threads stay real, so
the model code is exactly the code free mode runs.

Blocking primitives (:mod:`testbed.sched._primitives`) wait through
:meth:`park` and wake through :meth:`unpark` (the parking interface of
:mod:`testbed.sched._parking`) instead of sleeping: a thread that waits is
simply not runnable until another thread wakes it.  No runnable thread
while some are blocked is a deadlock: every blocked thread is woken with a
pending :class:`Deadlock`, which the model reports as ``safepoint-liveness``
with each blocked thread's name, what it waits on and all stacks.  A step
limit turns livelock into the same kind of report.  Both are halts
(:mod:`testbed.sched._halts`), which no ``except Exception`` can swallow.

A point that keeps the turn costs a counter increment and one compare
(:func:`testbed.sched.point` does both inline): the scheduler keeps a
*horizon*, the first step at which anything may happen, and only a point
that reaches it calls into the scheduler.  The horizon is the strategy's
next possible switch (:meth:`Strategy.quiet`) or the step limit, and drops
to 0 whenever the runnable set or the turn changes, or control ends, so the
next point re-plans.  The decisions passed below the horizon are all 0; they
are counted, not appended: whenever the scheduler is entered it first adds
the steps passed since it last was as one run of zeros.

The tape records, besides each decision, how many threads were runnable and
which thread (registration index) ran after it, run-length encoded as it is
recorded (:meth:`ControlledScheduler.recorded_tape`, the trace format).  A checked replay that no
longer matches (:class:`ReplayDiverged`, raised by the strategy) stops at
the point where it noticed, in the running thread; noticed at a turn change
that has no model code to raise into (the first turn, a thread's end, a
block), it is raised at the next point any thread reaches.

Wall-clock timeouts play no part in a controlled run's decisions; only the
outer run timeout (a pure-Python loop that never reaches a point) is
measured in seconds, and it only ever ends a run, never steers it.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import sys
import threading
from _thread import get_ident
from collections.abc import Callable, Sequence
from typing import Any

from testbed.sched._halts import Cancelled, Deadlock, ReplayDiverged, StepLimit
from testbed.sched._parking import ParkingLot, Patience, What, describe
from testbed.sched._points import Scheduler
from testbed.sched._strategies import ReplayStrategy, Strategy
from testbed.sched._trace import decode_tape

__all__ = ["ControlledScheduler"]


class _Task:
    __slots__ = ("baton", "blocked_on", "finished", "ident", "index", "name", "pending", "position", "waiting_for")

    def __init__(self, index: int, name: str) -> None:
        self.index = index
        self.name = name
        self.baton = _thread.allocate_lock()
        self.baton.acquire()  # held: the thread may not run until handed the turn
        self.ident: int | None = None
        self.blocked_on: object | None = None
        self.waiting_for = ""
        self.finished = False
        self.pending: BaseException | None = None
        #: place in the scheduler's cached runnable list (valid while that cache is)
        self.position = -1


class ControlledScheduler(Scheduler):
    """Serializes registered threads; decisions come from ``strategy``."""

    controlled = True

    def __init__(
        self,
        strategy: Strategy,
        max_steps: int = 2_000_000,
        pin_cpu: bool = True,
        record_events: bool = True,
    ) -> None:
        super().__init__()
        self.strategy = strategy
        #: the step limit (fixed for the run: point() compares with a copy, _stop_at)
        self.max_steps = max_steps
        # The step limit, or 0 while a halt waits to be raised at the next
        # point (see _stop); the horizon never passes it.
        self._stop_at = max_steps
        # The first step that must enter the scheduler (see the module
        # docstring): 0 until the first point of a thread holding the turn.
        self._horizon = 0
        # Only strategies that do not watch every operation skip points.
        self._skips = not strategy.wants_ops
        # The decisions consumed, run-length encoded: runs of (decision,
        # runnable, thread, repeat) laid end to end in one flat list of ints
        # (a list of small lists would be traced by every cycle collection).
        self._runs: list[int] = []
        # The last step accounted for on the tape, and how many threads were
        # runnable for the points since (each was a decision if two or more).
        self._accounted = 0
        self._span_choices = 0
        #: the first divergence of a checked replay (ReplayStrategy with expectations)
        self.diverged: ReplayDiverged | None = None
        self._deferred: ReplayDiverged | None = None
        # Thread switches and blocking as recorded: (step, event, thread,
        # detail), and for a preemption (step, "switch", thread, to, kind),
        # formatted only when read (see events): a switch is the costly path.
        self._events: list[tuple[Any, ...]] = []
        self._record_events = record_events
        self._tasks: list[_Task] = []
        self._current: _Task | None = None
        # The runnable threads and their indices, rebuilt only when a thread is
        # spawned, ends, blocks or wakes (None = stale): a point that does not
        # switch builds no list.
        self._runnable_cache: list[_Task] | None = None
        self._runnable_indices: tuple[int, ...] = ()
        self._step = 0
        #: switches away from a thread that could have gone on
        self.preemptions = 0
        self._abandoned = False
        self._limit_reported = False
        self._pin = pin_cpu
        self._saved_affinity: set[int] | None = None
        if strategy.wants_ops:
            # Only a strategy that needs every operation (pos, surw) gets the
            # reporting point; the others keep the plain one, untouched.
            self.point = self._point_ops  # type: ignore[method-assign]

    # -- lifecycle -----------------------------------------------------------

    @property
    def steps(self) -> int:
        return self._step

    def start(self) -> None:
        # One thread runs at a time, so one CPU costs nothing and makes the
        # baton handoff several times faster (no cross-core wake-ups).
        if self._pin and hasattr(os, "sched_setaffinity"):
            try:
                self._saved_affinity = os.sched_getaffinity(0)
                # Processes running side by side (stress --jobs) spread over the
                # allowed CPUs; which one only affects speed, never a decision.
                cpus = sorted(self._saved_affinity)
                os.sched_setaffinity(0, {cpus[os.getpid() % len(cpus)]})
            except OSError:
                self._saved_affinity = None

    def stop(self) -> None:
        """Restore the calling thread's CPU mask (``running`` calls this however the run ends)."""
        saved, self._saved_affinity = self._saved_affinity, None
        if saved is not None:
            # OSError: a CPU of the old mask went offline; the run is over either way.
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, saved)

    def spawn(self, name: str, target: Callable[..., None], *args: object) -> threading.Thread:
        task = _Task(len(self._tasks), name)
        self._tasks.append(task)
        self._runnable_cache = None
        self._horizon = 0
        self.strategy.register(task.index)
        thread = threading.Thread(target=self._task_body, args=(task, target, args), name=name, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def launch(self) -> None:
        """Hand the first turn (itself a decision) to one of the spawned threads."""
        runnable = [t for t in self._tasks if not t.finished]
        if not runnable:
            return
        first = self._choose_next(runnable)
        self._event("start", first, "the first turn")
        self._current = first
        first.baton.release()

    @property
    def decisions(self) -> int:
        """How many decisions were consumed (the tape's length)."""
        return sum(self._runs[3::4])

    @property
    def tape(self) -> list[int]:
        """The decisions consumed, in order: the schedule (expanded from the runs)."""
        return decode_tape(self.recorded_tape())[0]

    def abandon(self) -> None:
        """Give up control (the run timed out): let every thread run freely to its end.

        Race-free against a thread handing the turn over at the same moment,
        without a lock on the handoff path (which must stay two raw lock
        operations): the flag goes up first, then every locked baton is
        released once.  A baton is locked while its thread holds or awaits
        the turn; releasing it lets through the one acquire each thread can
        still have in flight (a point or park that passed the abandoned
        check just before), and afterwards no thread takes a baton again:
        points return at once, parks sleep the free way, grants do nothing.
        The one collision, a grant and this method releasing the same baton
        between the other's check and release, makes the later release find
        it unlocked (``RuntimeError``); whichever side that is, the baton is
        released, which is all either wanted, so the error is dropped.
        """
        if self._abandoned:
            return
        self._abandoned = True
        self._horizon = 0  # every point goes to point(), which now returns at once
        for task in self._tasks:
            if task.baton.locked():
                with contextlib.suppress(RuntimeError):  # a grant released it meanwhile
                    task.baton.release()

    def _grant(self, task: _Task) -> None:
        """Give ``task`` the turn (release its baton), unless control was abandoned."""
        try:
            task.baton.release()
        except RuntimeError:
            if not self._abandoned:
                raise  # released twice while steering: a scheduler bug, never hidden
            # else: abandon() released it first (see there)

    def _task_body(self, task: _Task, target: Callable[..., None], args: tuple[object, ...]) -> None:
        task.ident = threading.get_ident()
        task.baton.acquire()  # wait for the first turn
        try:
            if task.pending is None:
                target(*args)
            # else: cancelled before its first turn (see cancel)
        except (ReplayDiverged, Cancelled):
            # Raised at a point outside the model's top-level handler: the
            # scheduler keeps a divergence (``diverged``) and the run raises
            # it to its caller, a cancel is no finding; either way the
            # thread need not die with a printed traceback.
            pass
        finally:
            task.finished = True
            self._runnable_cache = None
            self._horizon = 0
            self._event("end", task, "")
            if not self._abandoned:
                self._pass_turn(task, blocking=False)

    # -- scheduling points ---------------------------------------------------

    def point(self, kind: str, detail: object = None) -> None:
        """A point that reached the horizon (or any point of a strategy that watches operations).

        :func:`testbed.sched.point` has already compared the next step with
        the horizon; only a point at or past it, or under a ``wants_ops``
        strategy, arrives here.
        """
        task = self._current
        if task is None or task.ident != get_ident() or self._abandoned:
            return  # not a registered thread (the main thread), or control given up
        step = self._step = self._step + 1
        if step - 1 != self._accounted:
            self._account(step - 1)
        self._accounted = step
        if step > self._stop_at:
            self._stop(step)
        runnable = self._runnable_cache or self._runnable()
        choices = len(runnable)
        if choices < 2:
            if self._skips:
                self._horizon = self._stop_at + 1
            return
        # The thread at a point is always runnable (it neither ended nor blocked).
        indices = self._runnable_indices
        try:
            decision = self.strategy.decide(step, indices, task.index, True) % choices
        except ReplayDiverged as halt:
            # Raised here, in the running thread: its top level reports it and the run aborts.
            raise self._diverge(halt) from None
        if not decision:
            self._record(0, choices, task.index, 1)
            if self._skips:
                quiet = self.strategy.quiet(step, indices, task.index)
                self._horizon = min(step + 1 + quiet, self._stop_at + 1)
            return
        chosen = runnable[(task.position + decision) % choices]
        # _record, inline: a switch is the one costly path of a point
        runs = self._runs
        if runs and runs[-2] == chosen.index and runs[-4] == decision and runs[-3] == choices:
            runs[-1] += 1
        else:
            runs += (decision, choices, chosen.index, 1)
        self.preemptions += 1
        if self._record_events:
            self._events.append((step, "switch", task.name, chosen.name, kind))
        # _hand_over, inline: with the raw event, 8.1 -> 7.8 us a switch (bench/scheduler.py)
        self._current = chosen
        self._horizon = 0
        try:
            chosen.baton.release()
        except RuntimeError:
            if not self._abandoned:
                raise
        task.baton.acquire()
        if task.pending is not None:
            error, task.pending = task.pending, None
            raise error

    def _record(self, decision: int, runnable: int, thread: int, repeat: int) -> None:
        """Append ``repeat`` decisions to the tape, merged into the last run when they extend it."""
        runs = self._runs
        if runs and runs[-4] == decision and runs[-3] == runnable and runs[-2] == thread:
            runs[-1] += repeat
        else:
            runs += (decision, runnable, thread, repeat)

    def _account(self, upto: int) -> None:
        """The points after the last accounted step up to ``upto`` kept the turn: record their zeros.

        Between two entries into the scheduler only the thread holding the
        turn passes points, with the runnable set unchanged (a change drops
        the horizon): each was a decision, 0, if two or more threads were
        runnable, and the strategy announced it (``quiet``).
        """
        passed = upto - self._accounted
        if passed <= 0:
            return
        self._accounted = upto
        if self._span_choices >= 2 and self._current is not None:
            self._record(0, self._span_choices, self._current.index, passed)
            self.strategy.skip(passed)

    def _point_ops(self, kind: str, detail: object = None) -> None:
        """:meth:`point`, first reporting the operation to the strategy (``wants_ops``)."""
        task = self._current
        if task is not None and task.ident == get_ident() and not self._abandoned:
            self.strategy.at_point(task.index, kind, detail)
        ControlledScheduler.point(self, kind, detail)

    def _stop(self, step: int) -> None:
        """The step passed ``_stop_at``: raise the pending halt, or the step limit, once."""
        halt = self._deferred
        if halt is not None:
            self._deferred = None
            self._stop_at = sys.maxsize if self._limit_reported else self.max_steps
            self._horizon = 0
            raise halt
        if step > self.max_steps and not self._limit_reported:
            # Raised once, in the thread that crossed the limit; later points
            # pass, so the report and every thread's unwinding can proceed.
            self._limit_reported = True
            self._stop_at = sys.maxsize
            self._horizon = 0
            raise StepLimit(self.max_steps)

    def _diverge(self, halt: ReplayDiverged) -> ReplayDiverged:
        """Keep the first divergence, its threads named for the message."""
        named = halt.named(self.thread_names())
        if self.diverged is None:
            self.diverged = named
        return named

    def _runnable(self) -> list[_Task]:
        runnable = self._runnable_cache
        if runnable is None:
            runnable = [t for t in self._tasks if not t.finished and t.blocked_on is None]
            for position, t in enumerate(runnable):
                t.position = position
            self._runnable_indices = tuple(t.index for t in runnable)
            self._runnable_cache = runnable
            # Points from here on see this many runnable threads (see _account).
            self._span_choices = len(runnable)
        return runnable

    def _choose_next(self, runnable: Sequence[_Task]) -> _Task:
        """The thread to run when none holds the turn (first turn, or the holder blocked or ended)."""
        if len(runnable) < 2:
            return runnable[0]  # no decision
        try:
            decision = self.strategy.decide(self._step, [t.index for t in runnable], -1, False) % len(runnable)
        except ReplayDiverged as halt:
            # No model code to raise into here (the main thread launching, a
            # thread ending or blocking): the next point any thread reaches
            # raises it, and until then the replay decides 0.
            self._deferred = self._diverge(halt)
            self._stop_at = 0
            decision = 0
        chosen = runnable[decision]
        self._record(decision, len(runnable), chosen.index, 1)
        return chosen

    def _hand_over(self, task: _Task, chosen: _Task) -> None:
        """Give ``chosen`` the turn and wait for ``task``'s next one (inlined in :meth:`point`)."""
        self._current = chosen
        self._horizon = 0  # the new holder plans its own horizon at its next point
        try:  # _grant, inline: this is the switching path
            chosen.baton.release()
        except RuntimeError:
            if not self._abandoned:
                raise
        task.baton.acquire()
        if task.pending is not None:
            error, task.pending = task.pending, None
            raise error

    def _pass_turn(self, task: _Task, blocking: bool) -> None:
        """``task`` cannot go on (blocked or ended): give the turn to someone else."""
        self._account(self._step)
        self._horizon = 0
        runnable = self._runnable()
        if not runnable:
            blocked = [t for t in self._tasks if not t.finished and t.blocked_on is not None]
            if not blocked:
                self._current = None
                return  # everyone ended: the run is over
            self._declare_deadlock(blocked)
            runnable = self._runnable()
        chosen = self._choose_next(runnable)
        if chosen is task:
            return
        self._event("switch", task, chosen.name)
        if blocking:
            self._hand_over(task, chosen)
        else:
            self._current = chosen
            self._horizon = 0
            self._grant(chosen)

    def cancel(self, reason: str) -> None:
        """End the schedule early: every other thread raises :class:`Cancelled` when it next has the turn.

        Called by the thread holding the turn (one whose failure decided the
        schedule).  A blocked thread is woken to raise it; a thread waiting
        at a point raises it there; one not started yet never runs its
        function.  The threads are stopped at their next point, never
        killed, so each still unwinds (``finally`` blocks, lock releases).
        """
        current = self._current
        for task in self._tasks:
            if task is current or task.finished:
                continue
            if task.pending is None:
                task.pending = Cancelled(reason)
            task.blocked_on = None
        self._runnable_cache = None
        self._horizon = 0

    def _declare_deadlock(self, blocked: list[_Task]) -> None:
        description = "; ".join(f"{t.name} waits for {t.waiting_for}" for t in blocked)
        for t in blocked:
            t.pending = Deadlock(description)
            t.blocked_on = None
        self._runnable_cache = None
        self._horizon = 0
        self._event("deadlock", blocked[0], description)

    # -- blocking (called by the primitives) ---------------------------------

    def current_task(self) -> _Task | None:
        task = self._current
        if task is None or task.ident != get_ident() or self._abandoned:
            return None
        return task

    def park(
        self,
        lot: ParkingLot,
        ready: Callable[[], bool],
        what: What,
        patience: Patience,
        abandon: Callable[[], bool] | None = None,
    ) -> bool:
        """Block the running thread on ``lot`` until ``ready()`` (or a deadlock).

        A thread this scheduler does not steer (an unregistered thread, or
        any thread once control is abandoned) parks the free way, against
        the same state and guard, so ownership stays one record.
        ``patience`` plays no part here: a controlled wait ends by a wake or
        by a deadlock, never by the clock.
        """
        while True:
            task = self.current_task()
            if task is None:
                return super().park(lot, ready, what, patience, abandon)
            with lot.guard:
                if ready():
                    return True
                if abandon is not None and abandon():
                    return False
                # Marked blocked under the guard: an unpark from a thread
                # outside the schedule (which takes the guard) either ran
                # before the check above or sees this thread blocked.
                lot.blocked += 1
                task.blocked_on = lot
                task.waiting_for = describe(what)
                self._runnable_cache = None
                self._horizon = 0
                self._event("block", task, task.waiting_for)
            try:
                self._pass_turn(task, blocking=True)
            finally:
                with lot.guard:
                    lot.blocked -= 1
            if task.pending is not None:
                error, task.pending = task.pending, None
                raise error

    def unpark(self, lot: ParkingLot, count: int | None = None) -> None:
        """``lot.guard`` held: wake free sleepers, and every thread blocked on ``lot``."""
        super().unpark(lot, count)
        if lot.blocked:
            self.wake(lot)

    def wake(self, on: object) -> None:
        """Every thread blocked on ``on`` becomes runnable (it re-checks its condition)."""
        for task in self._tasks:
            if task.blocked_on is on:
                task.blocked_on = None
                self._runnable_cache = None
                self._horizon = 0
                self._event("wake", task, task.waiting_for)

    def interrupt_waits(self) -> None:
        """Wake every blocked thread so it re-checks (the run is being aborted)."""
        for task in self._tasks:
            if task.blocked_on is not None:
                task.blocked_on = None
                self._runnable_cache = None
                self._horizon = 0

    def _event(self, event: str, task: _Task, detail: str) -> None:
        if self._record_events:
            self._events.append((self._step, event, task.name, detail))

    @property
    def events(self) -> list[tuple[int, str, str, str]]:
        """Thread switches and blocking, as (step, event, thread, detail)."""
        return [e if len(e) == 4 else (e[0], e[1], e[2], f"{e[3]} at {e[4]}") for e in self._events]

    def trace_events(self) -> list[list[Any]]:
        return [list(e) for e in self.events]

    # -- the recorded tape -----------------------------------------------------

    def thread_names(self) -> list[str]:
        """The threads' names by registration index (their identity on the tape)."""
        return [t.name for t in self._tasks]

    def recorded_tape(self) -> list[list[int]]:
        """The tape as runs ``[decision, runnable, thread, repeat]`` (the trace format):
        ``repeat`` consecutive decisions that each chose ``decision`` among
        ``runnable`` runnable threads and handed the turn to ``thread``
        (registration index).
        """
        self._account(self._step)  # a run stopped by a halt may have zeros not yet added
        flat = self._runs
        return [flat[i : i + 4] for i in range(0, len(flat), 4)]

    def divergence(self) -> ReplayDiverged | None:
        """After the run: the first divergence of a checked replay, if any.

        Includes a run that ended with decisions left on its tape.
        """
        if self.diverged is None and isinstance(self.strategy, ReplayStrategy):
            leftover = self.strategy.leftover(self._step)
            if leftover is not None:
                self.diverged = leftover.named(self.thread_names())
        return self.diverged
