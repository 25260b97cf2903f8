"""Queues on the scheduling layer's primitives: drop-ins for :mod:`queue`'s.

Built as the standard library builds them (one mutex, conditions on it, and
the storage behind four hooks, ``_init``/``_qsize``/``_put``/``_get``, so
:class:`LifoQueue` and :class:`PriorityQueue` are :class:`Queue` with other
hooks), but on :class:`~testbed.sched.Lock` and
:class:`~testbed.sched.Condition`.  So every ``put``, ``get``,
``task_done``, ``join`` and size query is a scheduling point (the mutex's
acquire, detail: the queue's name), a blocked ``get`` or ``put`` parks
instead of sleeping, and a consumer nobody will ever feed is a deadlock
naming ``condition 'queue-1.not-empty'`` under a controlled scheduler.

:class:`SimpleQueue` shares the mutex, the not-empty condition and ``get``
(:class:`_BaseQueue`) but has no bound and no task accounting, as the
standard one; like it, it is not a :class:`Queue`.

``put_nowait``/``get_nowait`` (and ``block=False``) raise
:class:`queue.Full`/:class:`queue.Empty` as the standard ones do, and a
negative ``timeout`` of a blocking call is a ``ValueError``.  Any other
``timeout`` is the wait's patience, as for every primitive here: under a
controlled scheduler a wait ends by a wake-up (one nobody can end is a
deadlock), in free mode one out of patience raises ``WaitTimeout`` instead
of ``Full``/``Empty`` (see :mod:`testbed.sched._primitives`).
"""

from __future__ import annotations

import collections
import heapq
import queue
import types
from typing import Any

from testbed.sched._primitives import Condition, Lock, auto_name

__all__ = ["LifoQueue", "PriorityQueue", "Queue", "SimpleQueue"]


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")


class _BaseQueue:
    """The mutex, the not-empty condition, the storage hooks and ``get``: what every queue here shares.

    A subclass says how items are stored (the hooks), whether ``put`` may
    have to wait for room (``_wait_for_room``) and what else a put or a get
    changes (``_added``, ``_taken``), all with the mutex held.
    """

    #: the kind in automatic names (``queue-1``, ``lifo-queue-1``, ...)
    _kind = "queue"
    queue: Any

    def __init__(self, name: str | None = None) -> None:
        self.name = auto_name(self._kind) if name is None else name
        self.mutex = Lock(self.name)
        self.not_empty = Condition(self.mutex, f"{self.name}.not-empty")

    # -- storage hooks (mutex held), as in the standard library -------------------------

    def _init(self, maxsize: int) -> None:
        self.queue = collections.deque()

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: Any) -> None:
        self.queue.append(item)

    def _get(self) -> Any:
        return self.queue.popleft()

    # -- what a put or a get also does (mutex held) -------------------------------------

    def _wait_for_room(self, block: bool, timeout: float | None) -> None:
        """Return once the item fits (never waits: unbounded), or raise ``queue.Full``."""

    def _added(self) -> None:
        """An item was put."""

    def _taken(self) -> None:
        """An item was got."""

    # -- the API ------------------------------------------------------------------------

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item``, first waiting for room in a bounded queue (``block``) or raising ``queue.Full``."""
        with self.mutex:
            self._wait_for_room(block, timeout)
            self._put(item)
            self._added()
            self.not_empty.notify()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Remove and return an item, waiting for one (``block``) or raising ``queue.Empty``."""
        if block:
            _check_timeout(timeout)
        with self.mutex:
            if not block:
                if not self._qsize():
                    raise queue.Empty
            else:
                self.not_empty.wait_for(self._qsize, timeout)
            item = self._get()
            self._taken()
            return item

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def qsize(self) -> int:
        with self.mutex:
            return self._qsize()

    def empty(self) -> bool:
        with self.mutex:
            return not self._qsize()

    __class_getitem__ = classmethod(types.GenericAlias)

    def __repr__(self) -> str:
        return f"<testbed.sched.{type(self).__name__} {self.name!r} {self._qsize()} items>"


class SimpleQueue(_BaseQueue):
    """``SimpleQueue(name=None)``: unbounded FIFO; ``put`` never blocks, no ``task_done``/``join``."""

    _kind = "simple-queue"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._init(0)


class Queue(_BaseQueue):
    """``Queue(maxsize=0, name=None)``: FIFO, unbounded when ``maxsize <= 0``, with ``task_done``/``join``."""

    def __init__(self, maxsize: int = 0, name: str | None = None) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool):
            raise TypeError(f"queue maxsize must be an integer, got {maxsize!r}")
        super().__init__(name)
        self.maxsize = maxsize
        self._init(maxsize)
        self.not_full = Condition(self.mutex, f"{self.name}.not-full")
        self.all_tasks_done = Condition(self.mutex, f"{self.name}.all-tasks-done")
        self.unfinished_tasks = 0

    def _wait_for_room(self, block: bool, timeout: float | None) -> None:
        if self.maxsize <= 0:
            return
        if not block:
            if self._qsize() >= self.maxsize:
                raise queue.Full
            return
        _check_timeout(timeout)
        self.not_full.wait_for(lambda: self._qsize() < self.maxsize, timeout)

    def _added(self) -> None:
        self.unfinished_tasks += 1

    def _taken(self) -> None:
        self.not_full.notify()

    def task_done(self) -> None:
        """Mark one item got as processed; ``ValueError`` when called more often than items were put."""
        with self.mutex:
            unfinished = self.unfinished_tasks - 1
            if unfinished < 0:
                raise ValueError(f"task_done() called too many times on queue {self.name!r}")
            self.unfinished_tasks = unfinished
            if unfinished == 0:
                self.all_tasks_done.notify_all()

    def join(self) -> None:
        """Wait until every item put has been marked done (``task_done``)."""
        with self.mutex:
            self.all_tasks_done.wait_for(lambda: self.unfinished_tasks == 0)

    def full(self) -> bool:
        with self.mutex:
            return 0 < self.maxsize <= self._qsize()


class LifoQueue(Queue):
    """``LifoQueue(maxsize=0, name=None)``: a :class:`Queue` that gets the most recently put item first."""

    _kind = "lifo-queue"

    def _init(self, maxsize: int) -> None:
        self.queue = []

    def _get(self) -> Any:
        return self.queue.pop()


class PriorityQueue(Queue):
    """``PriorityQueue(maxsize=0, name=None)``: a :class:`Queue` that gets the smallest item first (a heap)."""

    _kind = "priority-queue"

    def _init(self, maxsize: int) -> None:
        self.queue = []

    def _put(self, item: Any) -> None:
        heapq.heappush(self.queue, item)

    def _get(self) -> Any:
        return heapq.heappop(self.queue)
