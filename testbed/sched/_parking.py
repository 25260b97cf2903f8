"""Parking: the one way a model thread waits, and how long a free-mode wait may last.

trio builds every primitive (Lock, Condition, Event, ...) on one
``ParkingLot``: a primitive keeps its own state (who holds the lock, whether
the event is set) and only asks the lot to put the current task to sleep
until that state changes, or to wake the tasks sleeping on it.  The model's
primitives (:mod:`testbed.sched._primitives`) are built the same way, on a
:class:`ParkingLot` each, and the waiting itself is the active scheduler's
business, through one interface both schedulers implement:

``scheduler.park(lot, ready, what, patience, abandon) -> bool``
    Wait until ``ready()`` holds (True) or ``abandon()`` does (False).
    ``ready`` runs with ``lot.guard`` held, so it may claim what it found
    (a lock's ownership) in the same step as the check: that check-and-claim
    is the only ownership path, whichever scheduler runs the thread.
``scheduler.unpark(lot, count)``
    Called with ``lot.guard`` held, after the state changed: wake up to
    ``count`` free-mode sleepers (all for None) and every controlled thread
    blocked on the lot (they re-check; which one wins is a scheduling
    decision, never an OS accident).

The free implementation (:func:`park_free`, used by :class:`FreeScheduler`,
by the idle scheduler, and by a controlled scheduler for a thread it does
not steer) sleeps on the lot's condition variable in bounded slices, so an
``abandon`` predicate (a run being torn down) is seen within a slice.  The
controlled one marks the thread blocked and hands the turn on
(:mod:`testbed.sched._controlled`).

How long a free-mode wait may last is a :class:`Patience`.  A wait that
passes its timeout is a liveness failure only if *nothing progressed* for a
whole timeout: a scheduling point passed by any thread is progress (every
operation on shared state passes one, and a parked thread passes none), so
an overloaded machine, where the threads a wait depends on are merely slow,
extends the wait instead of crying wolf.  A hard cap (``timeout_cap`` times
the timeout) still ends a wait whose threads keep progressing without ever
satisfying it (a livelock).  Stretches in which the waiter itself was not
scheduled (a suspended or badly overloaded process) count neither as quiet
time nor towards the cap: they say nothing about the other threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from testbed.sched._violation import WaitTimeout

__all__ = ["SLICE", "ParkingLot", "Patience", "describe", "park_free"]

#: longest single sleep of a free-mode wait: bounds how late an abandon is seen
SLICE = 0.05
#: a gap this long between two checks of one waiter means the waiter itself
#: was not running; the gap is not counted as time without progress
STARVED = 1.0

What = str | Callable[[], str]


def describe(what: What) -> str:
    """``what`` a thread waits for, as text (computed late: a lock's holder changes)."""
    return what() if callable(what) else what


class ParkingLot:
    """Where threads wait for one primitive's state to change.

    ``guard`` is a raw lock held only for a few lines at a time (a state
    change, a check-and-claim), never across a scheduling point or a sleep,
    so it can never take part in a deadlock of the model.
    """

    __slots__ = ("blocked", "guard", "name", "sleepers", "sleeping")

    def __init__(self, name: str) -> None:
        self.name = name
        self.guard = threading.Lock()
        #: free-mode sleepers wait here (the guard is released while they sleep)
        self.sleepers = threading.Condition(self.guard)
        #: threads sleeping in :func:`park_free` on this lot (guard held to change)
        self.sleeping = 0
        #: controlled threads blocked on this lot (guard held to change); lets
        #: an unpark skip the scheduler when nobody can be woken
        self.blocked = 0

    @property
    def waiters(self) -> bool:
        """Anyone to wake (read with the guard held)."""
        return bool(self.sleeping or self.blocked)


class _Progress(Protocol):
    wait_timeout: float
    timeout_cap: float

    @property
    def steps(self) -> int: ...


class Patience:
    """How long one free-mode wait may last, measured by progress, not only by the clock.

    ``timeout`` is the shortest time before the wait can fail (None: the
    scheduler's ``wait_timeout``; ``math.inf``: an idle wait that never
    fails).  After it, the wait fails once no scheduling point was passed by
    any thread for ``quiet`` seconds (default: the timeout), or at the hard
    cap ``cap`` (default: ``timeout * scheduler.timeout_cap``) however much
    the others progress.  One Patience spans every park of one wait (a
    condition wait parks again after each notify that did not satisfy it).
    """

    __slots__ = ("_cap", "_last", "_mark", "_quiet", "_quiet_since", "_started", "timeout")

    def __init__(self, timeout: float | None = None, quiet: float | None = None, cap: float | None = None) -> None:
        self.timeout = timeout
        self._quiet = quiet
        self._cap = cap
        self._started = -1.0
        self._quiet_since = self._last = 0.0
        self._mark = 0

    def expired(self, scheduler: _Progress) -> str | None:
        """None while the wait may go on; else why it may not (for the report).

        Call it about every :data:`SLICE`; the first call starts the clock.
        """
        now = time.monotonic()
        progress = scheduler.steps
        if self._started < 0:
            if self.timeout is None:
                self.timeout = scheduler.wait_timeout
            if self._quiet is None:
                self._quiet = self.timeout
            if self._cap is None:
                self._cap = self.timeout * scheduler.timeout_cap
            self._started = self._quiet_since = self._last = now
            self._mark = progress
            return None
        if self.timeout == math.inf:
            return None
        assert self._quiet is not None and self._cap is not None
        gap = now - self._last
        self._last = now
        if progress != self._mark:
            self._mark = progress
            self._quiet_since = now
        elif gap > STARVED:
            # We were not scheduled for a while: neither quiet time nor cap time.
            self._quiet_since += gap
            self._started += gap
        waited = now - self._started
        if waited >= self._cap:
            return f"threads kept passing scheduling points until the hard cap of {self._cap:g}s"
        quiet = now - self._quiet_since
        if waited >= self.timeout and quiet >= self._quiet:
            if waited < self.timeout + self._quiet:
                return "no thread made progress meanwhile"
            return f"the last {quiet:.1f}s without progress in any thread"
        return None

    @property
    def waited(self) -> float:
        """Seconds since the first check (excluding stretches the waiter was not scheduled)."""
        return 0.0 if self._started < 0 else time.monotonic() - self._started


def park_free(
    scheduler: _Progress,
    lot: ParkingLot,
    ready: Callable[[], bool],
    what: What,
    patience: Patience,
    abandon: Callable[[], bool] | None = None,
) -> bool:
    """Sleep until ``ready()`` (True) or ``abandon()`` (False); raise :class:`WaitTimeout` when out of patience.

    ``ready`` and ``abandon`` run with the guard held and must not block or
    pass a scheduling point (they read flags and claim state).
    """
    with lot.guard:
        if ready():
            return True
        lot.sleeping += 1
        try:
            while True:
                if abandon is not None and abandon():
                    return False
                reason = patience.expired(scheduler)
                if reason is not None:
                    text = describe(what)
                    break
                lot.sleepers.wait(SLICE)
                if ready():
                    return True
        finally:
            lot.sleeping -= 1
    # Outside the guard: collecting every stack takes a while, and other
    # threads may need the guard meanwhile (to release the lock we wait for).
    assert patience.timeout is not None
    raise WaitTimeout(text, patience.timeout, patience.waited, reason)
