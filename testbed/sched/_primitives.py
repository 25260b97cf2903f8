"""Blocking primitives of the model: Lock, Condition, Event, Barrier.

V8 blocks through ``base::Mutex``, ``base::ConditionVariable`` and
semaphores; the model blocks only through these, for three reasons.  Every
acquire and wait is a scheduling point.  Every wait is bounded: in free mode
a wait that passes its timeout while no thread makes progress (or that hits
the hard cap) raises :class:`WaitTimeout` carrying all thread stacks, which
the runtime reports as ``safepoint-liveness`` instead of hanging.  And under
a controlled scheduler a wait does not sleep at all: the thread is marked
blocked and the turn goes to another thread, so the scheduler sees deadlocks
exactly (no runnable thread) instead of by timeout.

Each primitive is its own state (a lock's owner, an event's flag, a
barrier's count and generation) plus a :class:`~testbed.sched._parking.ParkingLot`,
as trio builds its primitives.  State changes and check-and-claim steps
happen under the lot's guard; waiting is ``scheduler.park`` and waking is
``scheduler.unpark``, implemented by both schedulers, so there is no
free/controlled branch here and one ownership record per lock: a lock held
by a controlled thread excludes an unregistered thread (the main thread, a
test's helper) and the other way round.

The scheduler is read at each operation, not at construction, so the same
objects serve both modes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from testbed.sched import _points
from testbed.sched._parking import ParkingLot, Patience
from testbed.sched._points import point

__all__ = ["Barrier", "Condition", "Event", "Lock"]


class Lock:
    """A mutex; ``acquire`` is a scheduling point and is bounded like every wait."""

    __slots__ = ("_lot", "_owner", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lot = ParkingLot(name)
        #: name of the holding thread (None: free); the one ownership record, both modes
        self._owner: str | None = None

    def acquire(self, timeout: float | None = None) -> None:
        point("lock-acquire", self.name)
        me = threading.current_thread().name
        lot = self._lot
        with lot.guard:
            if self._owner is None:
                self._owner = me
                return

        def claim() -> bool:  # guard held: check and take in one step
            if self._owner is None:
                self._owner = me
                return True
            return False

        _points._active.park(lot, claim, self._describe, Patience(timeout))

    def _describe(self) -> str:
        return f"lock {self.name!r} held by {self._owner}"

    def release(self) -> None:
        lot = self._lot
        with lot.guard:
            if self._owner is None:
                raise RuntimeError(f"release of unlocked lock {self.name!r}")
            self._owner = None
            if lot.waiters:
                # One free sleeper suffices (it claims or a barger did; either
                # way someone holds it and will release again); every
                # controlled waiter re-checks, the schedule decides who wins.
                _points._active.unpark(lot, 1)

    def locked(self) -> bool:
        return self._owner is not None

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class Condition:
    """A condition variable bound to a :class:`Lock`.

    A notify advances a generation; a waiter records it (lock held) before
    it releases the lock and parks until it changes, so a notify between
    the release and the park is never lost.  A state change without a
    notify wakes nobody, in both modes (controlled mode would report it as
    a deadlock, free mode as a liveness failure).
    """

    __slots__ = ("_generation", "_lot", "lock", "name")

    def __init__(self, lock: Lock, name: str) -> None:
        self.lock = lock
        self.name = name
        self._lot = ParkingLot(name)
        self._generation = 0

    def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float | None = None,
        abandon: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait (lock held) until ``predicate()``; True when it holds.

        Returns False when ``abandon()`` became true first.  Raises
        :class:`WaitTimeout` when it ran out of patience (free mode; see
        :class:`~testbed.sched._parking.Patience`, ``math.inf`` never
        does), or a :class:`Deadlock` when no thread could ever make it
        happen (controlled mode).  The lock is held again however it ends.
        """
        point("condition-wait", self.name)
        patience: Patience | None = None
        what = f"condition {self.name!r}"
        while not predicate():
            if abandon is not None and abandon():
                return False
            if patience is None:
                patience = Patience(timeout)  # one budget for every park of this wait
            seen = self._generation
            self.lock.release()
            try:
                _points._active.park(self._lot, lambda seen=seen: self._generation != seen, what, patience, abandon)
            finally:
                self.lock.acquire()
        return True

    def notify_all(self) -> None:
        point("condition-notify", self.name)
        lot = self._lot
        with lot.guard:
            self._generation += 1
            if lot.waiters:
                _points._active.unpark(lot)


class Event:
    """A one-shot flag threads can wait on."""

    __slots__ = ("_flag", "_lot", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lot = ParkingLot(name)
        self._flag = False

    def set(self) -> None:
        point("event-set", self.name)
        lot = self._lot
        with lot.guard:
            self._flag = True
            if lot.waiters:
                _points._active.unpark(lot)

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> None:
        point("event-wait", self.name)
        if not self._flag:
            _points._active.park(self._lot, lambda: self._flag, f"event {self.name!r}", Patience(timeout))


class Barrier:
    """A reusable barrier for ``parties`` threads."""

    __slots__ = ("_arrived", "_broken", "_generation", "_lot", "name", "parties")

    def __init__(self, parties: int, name: str) -> None:
        self.name = name
        self.parties = parties
        self._lot = ParkingLot(name)
        self._arrived = 0
        self._generation = 0
        self._broken = False

    def wait(self, timeout: float | None = None) -> int:
        """Wait until ``parties`` threads arrived; returns this thread's arrival index."""
        point("barrier-wait", self.name)
        lot = self._lot
        with lot.guard:
            if self._broken:
                raise threading.BrokenBarrierError
            arrival = self._arrived
            self._arrived += 1
            if self._arrived == self.parties:
                self._arrived = 0
                self._generation += 1
                if lot.waiters:
                    _points._active.unpark(lot)
                return arrival
            generation = self._generation
        _points._active.park(
            lot,
            lambda: self._generation != generation or self._broken,
            lambda: f"barrier {self.name!r} ({self._arrived}/{self.parties} arrived)",
            Patience(timeout),
        )
        if self._generation == generation:
            raise threading.BrokenBarrierError
        return arrival

    def abort(self) -> None:
        """Break the barrier: waiting and later parties get ``BrokenBarrierError``."""
        lot = self._lot
        with lot.guard:
            self._broken = True
            if lot.waiters:
                _points._active.unpark(lot)
