"""Blocking primitives of the model: Lock, Condition, Event, Barrier.

V8 blocks through ``base::Mutex``, ``base::ConditionVariable`` and
semaphores; the model blocks only through these, for two reasons.  First,
every acquire and wait is a scheduling point, so a scheduler sees each place
a thread might block.  Second, every wait has a timeout: a wait that outlives
it raises :class:`WaitTimeout` carrying all thread stacks, which the runtime
reports as a ``safepoint-liveness`` violation instead of hanging.

Waits sleep in short slices and re-check an ``abandon`` predicate between
them, so a run that is being torn down after a violation never leaves a
thread stuck for the whole timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from testbed.sched._points import active_scheduler, point
from testbed.sched._violation import WaitTimeout

__all__ = ["Barrier", "Condition", "Event", "Lock"]

#: longest single sleep inside a wait; bounds how late an abandon is noticed
_SLICE = 0.05


def _deadline(timeout: float | None) -> float:
    return time.monotonic() + (active_scheduler().wait_timeout if timeout is None else timeout)


class Lock:
    """A mutex; ``acquire`` is a scheduling point and times out."""

    __slots__ = ("_lock", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()

    def acquire(self, timeout: float | None = None) -> None:
        point("lock-acquire", self.name)
        if self._lock.acquire(blocking=False):
            return
        deadline = _deadline(timeout)
        while not self._lock.acquire(timeout=_SLICE):
            if time.monotonic() > deadline:
                raise WaitTimeout(f"lock {self.name!r}", timeout or active_scheduler().wait_timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

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
        :class:`WaitTimeout` when neither happened within the timeout.
        """
        point("condition-wait", self.name)
        deadline = _deadline(timeout)
        while not predicate():
            if abandon is not None and abandon():
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(f"condition {self.name!r}", timeout or active_scheduler().wait_timeout)
            self._cond.wait(min(remaining, _SLICE))
        return True

    def notify_all(self) -> None:
        point("condition-notify", self.name)
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

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> None:
        point("event-wait", self.name)
        if not self._event.wait(active_scheduler().wait_timeout if timeout is None else timeout):
            raise WaitTimeout(f"event {self.name!r}", timeout or active_scheduler().wait_timeout)


class Barrier:
    """A reusable barrier for ``parties`` threads."""

    __slots__ = ("_barrier", "name")

    def __init__(self, parties: int, name: str) -> None:
        self.name = name
        self._barrier = threading.Barrier(parties)

    def wait(self, timeout: float | None = None) -> int:
        point("barrier-wait", self.name)
        limit = active_scheduler().wait_timeout if timeout is None else timeout
        try:
            return self._barrier.wait(limit)
        except threading.BrokenBarrierError:
            raise WaitTimeout(f"barrier {self.name!r}", limit) from None

    def abort(self) -> None:
        self._barrier.abort()
