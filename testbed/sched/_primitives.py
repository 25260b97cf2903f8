"""Blocking primitives of the model: Lock, Condition, Event, Barrier.

V8 blocks through ``base::Mutex``, ``base::ConditionVariable`` and
semaphores; the model blocks only through these, for three reasons.  Every
acquire and wait is a scheduling point.  Every wait has a timeout: in free
mode a wait that outlives it raises :class:`WaitTimeout` carrying all thread
stacks, which the runtime reports as ``safepoint-liveness`` instead of
hanging.  And under a controlled scheduler a wait does not sleep at all: the
thread is marked blocked and the turn goes to another thread, so the
scheduler sees deadlocks exactly (no runnable thread) instead of by timeout.

The mode is read from the active scheduler at each operation, not at
construction, so the same objects serve both modes.  Free-mode waits sleep
in short slices and re-check an ``abandon`` predicate between them, so a
run being torn down never leaves a thread stuck for the whole timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from testbed.sched import _points
from testbed.sched._points import point
from testbed.sched._violation import WaitTimeout

__all__ = ["Barrier", "Condition", "Event", "Lock"]

#: longest single sleep inside a free-mode wait; bounds how late an abandon is noticed
_SLICE = 0.05


def _limit(timeout: float | None) -> float:
    return _points._active.wait_timeout if timeout is None else timeout


def _controlled() -> Any:
    """The controlled scheduler, if the calling thread is one it steers."""
    scheduler = _points._active
    if scheduler.controlled and scheduler.current_task() is not None:
        return scheduler
    return None


class Lock:
    """A mutex; ``acquire`` is a scheduling point and times out."""

    __slots__ = ("_lock", "_owner", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._owner: object | None = None  # the controlled task holding it

    def acquire(self, timeout: float | None = None) -> None:
        point("lock-acquire", self.name)
        scheduler = _controlled()
        if scheduler is not None:
            while self._owner is not None:
                scheduler.block(self, f"lock {self.name!r} held by {self._owner.name}")
            self._owner = scheduler.current_task()
            return
        if self._lock.acquire(blocking=False):
            return
        deadline = time.monotonic() + _limit(timeout)
        while not self._lock.acquire(timeout=_SLICE):
            if time.monotonic() > deadline:
                raise WaitTimeout(f"lock {self.name!r}", _limit(timeout))

    def release(self) -> None:
        if self._owner is not None:
            self._owner = None
            _points._active.wake(self)
            return
        self._lock.release()

    def locked(self) -> bool:
        return self._owner is not None or self._lock.locked()

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
    """A condition variable bound to a :class:`Lock`."""

    __slots__ = ("_cond", "lock", "name")

    def __init__(self, lock: Lock, name: str) -> None:
        self.lock = lock
        self.name = name
        self._cond = threading.Condition(lock._lock)

    def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float | None = None,
        abandon: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait (lock held) until ``predicate()``; True when it holds.

        Returns False when ``abandon()`` became true first.  Raises
        :class:`WaitTimeout` when neither happened within the timeout (free
        mode) or when no thread could ever make it happen (controlled mode).
        """
        point("condition-wait", self.name)
        scheduler = _controlled()
        if scheduler is not None:
            while not predicate():
                if abandon is not None and abandon():
                    return False
                self.lock.release()
                try:
                    scheduler.block(self, f"condition {self.name!r}")
                finally:
                    self.lock.acquire()
            return True
        deadline = time.monotonic() + _limit(timeout)
        while not predicate():
            if abandon is not None and abandon():
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"condition {self.name!r}", _limit(timeout))
            self._cond.wait(min(remaining, _SLICE))
        return True

    def notify_all(self) -> None:
        point("condition-notify", self.name)
        if self.lock._owner is not None:
            _points._active.wake(self)
        else:
            self._cond.notify_all()


class Event:
    """A one-shot flag threads can wait on."""

    __slots__ = ("_event", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._event = threading.Event()

    def set(self) -> None:
        point("event-set", self.name)
        self._event.set()
        if _points._active.controlled:
            _points._active.wake(self)

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> None:
        point("event-wait", self.name)
        scheduler = _controlled()
        if scheduler is not None:
            while not self._event.is_set():
                scheduler.block(self, f"event {self.name!r}")
            return
        if not self._event.wait(_limit(timeout)):
            raise WaitTimeout(f"event {self.name!r}", _limit(timeout))


class Barrier:
    """A reusable barrier for ``parties`` threads."""

    __slots__ = ("_arrived", "_barrier", "_generation", "name", "parties")

    def __init__(self, parties: int, name: str) -> None:
        self.name = name
        self.parties = parties
        self._barrier = threading.Barrier(parties)
        self._arrived = 0
        self._generation = 0

    def wait(self, timeout: float | None = None) -> int:
        point("barrier-wait", self.name)
        scheduler = _controlled()
        if scheduler is not None:
            arrival = self._arrived
            self._arrived += 1
            if self._arrived == self.parties:
                self._arrived = 0
                self._generation += 1
                scheduler.wake(self)
                return arrival
            generation = self._generation
            while self._generation == generation:
                scheduler.block(self, f"barrier {self.name!r} ({self._arrived}/{self.parties} arrived)")
            return arrival
        try:
            return self._barrier.wait(_limit(timeout))
        except threading.BrokenBarrierError:
            raise WaitTimeout(f"barrier {self.name!r}", _limit(timeout)) from None

    def abort(self) -> None:
        self._barrier.abort()
