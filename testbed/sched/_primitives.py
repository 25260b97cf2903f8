"""Blocking primitives: Lock, RLock, Condition, Event, Semaphore, Barrier (queues: _queue; Timer: _timer).

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
free/controlled branch here (a blocked lock acquire first looks again
``scheduler.spins`` times: only a free scheduler on a free-threaded build
spins) and one ownership record per lock: a lock held
by a controlled thread excludes an unregistered thread (the main thread, a
test's helper) and the other way round.

The scheduler is read at each operation, not at construction, so the same
objects serve both modes.

They are also drop-ins for :mod:`threading`'s (for code run by
:func:`testbed.sched.explore`): a name is optional (an automatic one is
``lock-1``, ``condition-2``, ...: a counter per kind, never ``id()``, and
:func:`fresh_names` restarts the counters, so each explored schedule names
its primitives the same way); ``acquire(blocking=True, timeout=None)``
returns a bool; ``Condition`` has ``wait``, ``wait_for``, ``notify(n)``,
``notify_all`` and checks the lock is held; ``Event`` has ``clear``;
``Barrier`` has :class:`threading.Barrier`'s ``action``, ``reset``,
``abort``, ``broken`` and its ``BrokenBarrierError``.  One
difference stays: a timeout does not end a wait with False.  In free mode
it is the wait's *patience* (:class:`~testbed.sched._parking.Patience`: a
wait nobody can end fails with :class:`WaitTimeout`); in controlled mode
waits end by a wake-up, and one nobody can end is a :class:`Deadlock`.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from _thread import get_ident
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Protocol

from testbed.sched import _points
from testbed.sched._atomic import AtomicCounter
from testbed.sched._parking import ParkingLot, Patience
from testbed.sched._points import point

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "Condition",
    "Event",
    "Lock",
    "RLock",
    "Semaphore",
    "fresh_names",
]

# A fetch-and-add per kind, not ``itertools.count``: on a free-threaded build two
# threads making primitives at once must never get the same number.
_counters: dict[str, AtomicCounter] = {}


def auto_name(kind: str) -> str:
    """``kind-N``: the N-th unnamed primitive of that kind since the counters (re)started."""
    counter = _counters.get(kind)
    if counter is None:
        counter = _counters.setdefault(kind, AtomicCounter(1))
    return f"{kind}-{counter.fetch_add()}"


@contextlib.contextmanager
def fresh_names() -> Iterator[None]:
    """Number unnamed primitives from 1 again inside the block (one explored schedule)."""
    global _counters
    saved, _counters = _counters, {}
    try:
        yield
    finally:
        _counters = saved


def _patience(timeout: float | None) -> Patience:
    """``threading``'s "no timeout" (None or negative) is the scheduler's default patience."""
    return Patience(None if timeout is None or timeout < 0 else timeout)


class _Exit:
    """``with primitive:`` acquires and releases."""

    __slots__ = ()

    def acquire(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class _Mutex(_Exit):
    """What Lock and RLock share: one owner record, a claim under the guard, a parked wait.

    ``acquire`` is a scheduling point; a subclass says how a free lock is
    claimed (``_claim``) and whether its holder may take it again
    (``_reenter``).
    """

    __slots__ = ()
    _kind = "lock"
    name: str
    _lot: ParkingLot
    _owner: str | None
    _ident: int | None

    def _claim(self, me: str, ident: int) -> bool:
        """Guard held: take the lock if it is free (True), else leave it (False)."""
        raise NotImplementedError

    def _reenter(self, ident: int) -> bool:
        """Guard held: the holder takes it again (True); never for a plain lock."""
        return False

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take the lock; False only when ``blocking`` is false and it is held."""
        point("lock-acquire", self.name)
        me = threading.current_thread().name
        ident = get_ident()
        lot = self._lot

        def claim() -> bool:  # guard held: check and take in one step
            return self._claim(me, ident)

        with lot.guard:
            if self._reenter(ident) or claim():
                return True
        if not blocking:
            return False
        scheduler = _points._active
        for _ in range(scheduler.spins):
            # Spin, then sleep (FreeScheduler says why).  The owner is read
            # without the guard, as a hint; the claim is made under it.
            os.sched_yield()
            if self._owner is None:
                with lot.guard:
                    if claim():
                        return True
        scheduler.park(lot, claim, self._describe, _patience(timeout))
        return True

    def _describe(self) -> str:
        return f"{self._kind} {self.name!r} held by {self._owner}"

    def _is_owned(self) -> bool:
        return self._ident == get_ident()


class Lock(_Mutex):
    """A mutex; ``acquire`` is a scheduling point and is bounded like every wait."""

    __slots__ = ("_ident", "_lot", "_owner", "name")

    def __init__(self, name: str | None = None) -> None:
        self.name = auto_name("lock") if name is None else name
        self._lot = ParkingLot(self.name)
        #: name of the holding thread (None: free); the one ownership record, both modes
        self._owner: str | None = None
        #: the holding thread's ident (a Condition checks its lock is held by the caller)
        self._ident: int | None = None

    def _claim(self, me: str, ident: int) -> bool:
        if self._owner is None:
            self._owner = me
            self._ident = ident
            return True
        return False

    def release(self) -> None:
        lot = self._lot
        with lot.guard:
            if self._owner is None:
                raise RuntimeError(f"release of unlocked lock {self.name!r}")
            self._owner = None
            self._ident = None
            if lot.waiters:
                # One free sleeper suffices (it claims or a barger did; either
                # way someone holds it and will release again); every
                # controlled waiter re-checks, the schedule decides who wins.
                _points._active.unpark(lot, 1)

    def locked(self) -> bool:
        return self._owner is not None

    def _release_save(self) -> object:
        self.release()
        return None

    def _acquire_restore(self, saved: object) -> None:
        self.acquire()

    def __repr__(self) -> str:
        return f"<testbed.sched.Lock {self.name!r} {'held by ' + str(self._owner) if self._owner else 'unlocked'}>"


class RLock(_Mutex):
    """A reentrant lock: the holder may acquire it again and releases it as often."""

    __slots__ = ("_count", "_ident", "_lot", "_owner", "name")
    _kind = "rlock"

    def __init__(self, name: str | None = None) -> None:
        self.name = auto_name("rlock") if name is None else name
        self._lot = ParkingLot(self.name)
        self._owner: str | None = None
        self._ident: int | None = None
        self._count = 0

    def _claim(self, me: str, ident: int) -> bool:
        if self._ident is None:
            self._owner, self._ident, self._count = me, ident, 1
            return True
        return False

    def _reenter(self, ident: int) -> bool:
        if self._ident == ident:
            self._count += 1
            return True
        return False

    def release(self) -> None:
        lot = self._lot
        with lot.guard:
            if self._ident != get_ident():
                raise RuntimeError(f"cannot release un-acquired rlock {self.name!r}")
            self._count -= 1
            if self._count == 0:
                self._free()

    def _free(self) -> None:  # guard held
        self._owner = self._ident = None
        self._count = 0
        if self._lot.waiters:
            _points._active.unpark(self._lot, 1)

    def _release_save(self) -> object:
        with self._lot.guard:
            if self._ident != get_ident():
                raise RuntimeError(f"cannot release un-acquired rlock {self.name!r}")
            count = self._count
            self._free()
        return count

    def _acquire_restore(self, saved: object) -> None:
        self.acquire()
        assert isinstance(saved, int)
        with self._lot.guard:
            self._count = saved

    def __repr__(self) -> str:
        held = f"held by {self._owner} ({self._count} deep)" if self._owner else "unlocked"
        return f"<testbed.sched.RLock {self.name!r} {held}>"


class _ConditionLock(Protocol):
    name: str

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool: ...
    def release(self) -> None: ...
    def _is_owned(self) -> bool: ...
    def _release_save(self) -> object: ...
    def _acquire_restore(self, saved: object) -> None: ...


class _Waiter:
    __slots__ = ("notified",)

    def __init__(self) -> None:
        self.notified = False


class Condition(_Exit):
    """A condition variable bound to a :class:`Lock` or :class:`RLock` (a new RLock by default).

    A waiter takes a ticket (lock held) before it releases the lock and
    parks until a notify marks the ticket, so a notify between the release
    and the park is never lost, and ``notify(n)`` wakes exactly the ``n``
    oldest waiters.  A state change without a notify wakes nobody, in both
    modes (controlled mode reports it as a deadlock, free mode as a
    liveness failure).  ``wait``, ``wait_for`` and the notifies need the
    lock held (``RuntimeError`` otherwise, as in :mod:`threading`).
    """

    __slots__ = ("_lot", "_waiters", "lock", "name")

    def __init__(self, lock: Lock | RLock | None = None, name: str | None = None) -> None:
        if isinstance(lock, str):
            raise TypeError(f"Condition(lock, name): the lock comes first, got the string {lock!r}")
        self.name = auto_name("condition") if name is None else name
        if lock is None:
            lock = RLock(f"{self.name}-lock")
        elif not isinstance(lock, Lock | RLock):
            raise TypeError(f"Condition needs a testbed.sched Lock or RLock, got {type(lock).__name__}")
        self.lock: Lock | RLock = lock
        self._lot = ParkingLot(self.name)
        self._waiters: collections.deque[_Waiter] = collections.deque()

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        return self.lock.acquire(blocking, timeout)

    def release(self) -> None:
        self.lock.release()

    def _check_owned(self, what: str) -> None:
        if not self.lock._is_owned():
            raise RuntimeError(f"cannot {what} condition {self.name!r} without holding its lock {self.lock.name!r}")

    def _wait(self, patience: Patience, abandon: Callable[[], bool] | None) -> bool:
        """Lock held: release it, park until notified (or abandoned), take it again."""
        waiter = _Waiter()
        lot = self._lot
        with lot.guard:
            self._waiters.append(waiter)
        saved = self.lock._release_save()
        try:
            return _points._active.park(lot, lambda: waiter.notified, f"condition {self.name!r}", patience, abandon)
        finally:
            if not waiter.notified:
                with lot.guard:
                    if not waiter.notified:
                        self._waiters.remove(waiter)
            self.lock._acquire_restore(saved)

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait for a notify, take the lock again; True."""
        self._check_owned("wait on")
        point("condition-wait", self.name)
        return self._wait(_patience(timeout), None)

    def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float | None = None,
        abandon: Callable[[], bool] | None = None,
    ) -> Any:
        """Wait (lock held) until ``predicate()``; returns its (true) value.

        Returns False when ``abandon()`` became true first.  Raises
        :class:`WaitTimeout` when it ran out of patience (free mode; see
        :class:`~testbed.sched._parking.Patience`, ``math.inf`` never
        does), or a :class:`Deadlock` when no thread could ever make it
        happen (controlled mode).  The lock is held again however it ends.
        """
        self._check_owned("wait on")
        point("condition-wait", self.name)
        patience: Patience | None = None
        result = predicate()
        while not result:
            if abandon is not None and abandon():
                return False
            if patience is None:
                patience = _patience(timeout)  # one budget for every park of this wait
            self._wait(patience, abandon)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake the ``n`` longest-waiting threads (they retake the lock before returning)."""
        self._check_owned("notify")
        point("condition-notify", self.name)
        self._notify(n)

    def notify_all(self) -> None:
        self._check_owned("notify")
        point("condition-notify", self.name)
        self._notify(None)

    def _notify(self, n: int | None) -> None:
        lot = self._lot
        with lot.guard:
            waiters = self._waiters
            woken = 0
            while waiters and (n is None or woken < n):
                waiters.popleft().notified = True
                woken += 1
            if woken and lot.waiters:
                _points._active.unpark(lot)


class Event:
    """A flag threads can wait on; ``clear`` resets it."""

    __slots__ = ("_flag", "_lot", "_sets", "name")

    def __init__(self, name: str | None = None) -> None:
        self.name = auto_name("event") if name is None else name
        self._lot = ParkingLot(self.name)
        self._flag = False
        #: sets so far: a waiter returns after a set even if a clear followed it
        self._sets = 0

    def set(self) -> None:
        point("event-set", self.name)
        lot = self._lot
        with lot.guard:
            self._flag = True
            self._sets += 1
            if lot.waiters:
                _points._active.unpark(lot)

    def clear(self) -> None:
        point("event-clear", self.name)
        with self._lot.guard:
            self._flag = False

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        """Return (True) once the flag is set, or was set since the wait began."""
        point("event-wait", self.name)
        lot = self._lot
        with lot.guard:
            if self._flag:
                return True
            seen = self._sets
        _points._active.park(lot, lambda: self._flag or self._sets != seen, f"event {self.name!r}", _patience(timeout))
        return True


class Semaphore(_Exit):
    """A counter: ``acquire`` takes one (waiting while it is 0), ``release(n)`` gives ``n`` back."""

    __slots__ = ("_initial", "_lot", "_value", "name")

    def __init__(self, value: int = 1, name: str | None = None) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"semaphore value must be an integer, got {value!r}")
        if value < 0:
            raise ValueError(f"semaphore initial value must be >= 0, got {value}")
        self.name = auto_name(self._kind) if name is None else name
        self._lot = ParkingLot(self.name)
        self._value = value
        self._initial = value

    _kind = "semaphore"

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        point("semaphore-acquire", self.name)
        lot = self._lot

        def claim() -> bool:
            if self._value > 0:
                self._value -= 1
                return True
            return False

        with lot.guard:
            if claim():
                return True
        if not blocking:
            return False
        _points._active.park(lot, claim, f"semaphore {self.name!r} (value 0)", _patience(timeout))
        return True

    def release(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError(f"n must be one or more, got {n}")
        point("semaphore-release", self.name)
        lot = self._lot
        with lot.guard:
            self._check_release(n)
            self._value += n
            if lot.waiters:
                _points._active.unpark(lot, n)

    def _check_release(self, n: int) -> None:
        """Guard held: may ``n`` be released?"""

    @property
    def value(self) -> int:
        return self._value


class BoundedSemaphore(Semaphore):
    """A :class:`Semaphore` whose value may never exceed its initial value (``ValueError``)."""

    __slots__ = ()
    _kind = "bounded-semaphore"

    def _check_release(self, n: int) -> None:
        if self._value + n > self._initial:
            raise ValueError(f"semaphore {self.name!r} released too many times")


class _Generation:
    """One filling of a :class:`Barrier`: it ends tripped (every party arrived) or broken."""

    __slots__ = ("broken", "tripped")

    def __init__(self) -> None:
        self.tripped = False
        self.broken = False


BrokenBarrierError = threading.BrokenBarrierError


class Barrier:
    """``Barrier(parties, action=None, timeout=None, *, name=None)``: a reusable barrier, as :class:`threading.Barrier`.

    The last of ``parties`` threads to arrive runs ``action`` (if any) and
    then releases the others; ``wait`` returns the caller's arrival index
    (0 to ``parties - 1``).  The barrier *breaks*, and every thread waiting
    and every later ``wait`` raises :class:`BrokenBarrierError` (the
    :mod:`threading` class itself, so ``except threading.BrokenBarrierError``
    works), when ``abort()`` is called, when ``action`` raises (in the
    thread that ran it, which gets the action's exception), or when a
    waiting party leaves by an exception (a free-mode ``WaitTimeout``,
    ``threading``'s "the wait timed out", or a halt).  ``reset()`` breaks
    the current round for whoever waits in it and makes the barrier whole
    and empty again.

    Each round is a :class:`_Generation` the waiters hold on to, so a
    thread released from one round never confuses it with the next, and no
    round has to drain before the next begins (``threading`` needs draining
    and resetting states for that).  ``timeout`` is the patience of each
    wait, as for every primitive here (:class:`Patience`).

    ``Barrier(parties, "name")``, the model's older form, still names the
    barrier: a string is never a callable action.
    """

    __slots__ = ("_action", "_arrived", "_broken", "_generation", "_lot", "_timeout", "name", "parties")

    def __init__(
        self,
        parties: int,
        action: Callable[[], object] | str | None = None,
        timeout: float | None = None,
        *,
        name: str | None = None,
    ) -> None:
        if isinstance(action, str):
            if name is not None:
                raise TypeError(f"Barrier got two names, {action!r} and name={name!r}")
            name, action = action, None
        if isinstance(parties, bool) or not isinstance(parties, int) or parties < 1:
            raise ValueError(f"a barrier needs one or more parties, got {parties!r}")
        if action is not None and not callable(action):
            raise TypeError(f"barrier action must be callable or None, got {action!r}")
        self.name = auto_name("barrier") if name is None else name
        self.parties = parties
        self._action = action
        self._timeout = timeout
        self._lot = ParkingLot(self.name)
        #: threads waiting in the current round
        self._arrived = 0
        self._generation = _Generation()
        #: broken (abort, a failed action or wait): every wait raises until reset()
        self._broken = False

    def wait(self, timeout: float | None = None) -> int:
        """Wait until ``parties`` threads arrived; returns this thread's arrival index.

        Raises :class:`BrokenBarrierError` when the barrier is broken or
        breaks (or is reset) while this thread waits.
        """
        if timeout is None:
            timeout = self._timeout
        point("barrier-wait", self.name)
        lot = self._lot
        with lot.guard:
            if self._broken:
                raise BrokenBarrierError
            generation = self._generation
            arrival = self._arrived
            self._arrived += 1
            last = self._arrived == self.parties
            if last:
                # Later arrivals start the next round at once; this one trips when the action is done.
                self._generation = _Generation()
                self._arrived = 0
                if self._action is None:
                    self._trip(generation)
                    return arrival
        if last:
            self._run_action(generation)
            return arrival
        try:
            _points._active.park(
                lot,
                lambda: generation.tripped or generation.broken,
                lambda: f"barrier {self.name!r} ({self._arrived}/{self.parties} arrived)",
                _patience(timeout),
            )
        except BaseException:
            # A party gone (out of patience, halted): nobody else would be released either.
            with lot.guard:
                if not (generation.tripped or generation.broken):
                    self._break(generation)
            raise
        if not generation.tripped:
            raise BrokenBarrierError
        return arrival

    def _run_action(self, generation: _Generation) -> None:
        """The last arrival: run the action outside the guard (it may pass points and wait), then trip."""
        assert self._action is not None
        try:
            self._action()
        except BaseException:
            with self._lot.guard:
                self._break(generation)
            raise
        with self._lot.guard:
            self._trip(generation)

    def _trip(self, generation: _Generation) -> None:  # guard held
        generation.tripped = True
        if self._lot.waiters:
            _points._active.unpark(self._lot)

    def _break(self, generation: _Generation | None = None) -> None:  # guard held
        """Break the barrier: the given round and the current one end broken, later waits raise."""
        self._broken = True
        if generation is not None:
            generation.broken = True
        self._generation.broken = True
        # A round that ended broken is over: a wait after reset() starts a fresh one.
        self._generation = _Generation()
        self._arrived = 0
        if self._lot.waiters:
            _points._active.unpark(self._lot)

    def abort(self) -> None:
        """Break the barrier: waiting and later parties get :class:`BrokenBarrierError` until ``reset()``."""
        point("barrier-abort", self.name)
        with self._lot.guard:
            self._break()

    def reset(self) -> None:
        """Back to whole and empty; threads waiting in the current round get :class:`BrokenBarrierError`."""
        point("barrier-reset", self.name)
        lot = self._lot
        with lot.guard:
            if self._arrived:
                self._generation.broken = True
            self._generation = _Generation()
            self._arrived = 0
            self._broken = False
            if lot.waiters:
                _points._active.unpark(lot)

    @property
    def broken(self) -> bool:
        """Whether the barrier is broken (``abort``, a failed action or wait) and not reset since."""
        return self._broken

    @property
    def n_waiting(self) -> int:
        """Threads waiting in the current round (0 while broken)."""
        return 0 if self._broken else self._arrived

    def __repr__(self) -> str:
        state = "broken" if self._broken else f"waiters={self._arrived}/{self.parties}"
        return f"<testbed.sched.Barrier {self.name!r} {state}>"
