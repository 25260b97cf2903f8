"""The scavenger's shared work: claimable items and a work-stealing worklist.

Mirrors V8's parallel scavenge job (src/heap/scavenger.cc) and
``heap::base::Worklist`` (src/heap/base/worklist.h): roots and
remembered-set pages are *items* that tasks claim with an atomic increment;
objects still to be scanned live in each task's private local segment, and
a task with more than it needs publishes a segment to a global pool where
idle tasks steal it.  The global pool is a list of segments guarded by a
lock.  A task that finds no work waits; the last one to go idle while the
pool is empty declares the scavenge finished (termination detection).

Simplified: the item counter is an integer under a lock, not an atomic; a
task publishes the older half of its local list once it holds more than
``SEGMENT_SIZE`` objects; termination is a count of idle tasks under the
pool's lock.

Fault ``unlocked-steal`` makes stealing a bare read-then-write of the pool:
a segment published between the read and the write is overwritten and its
objects are never scanned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from testbed.heap import HeapObject
from testbed.sched import Condition, Lock, point

__all__ = ["ItemQueue", "Worklist"]

T = TypeVar("T")


class ItemQueue(Generic[T]):
    """Items claimed one at a time by index (``std::atomic<size_t>::fetch_add``)."""

    def __init__(self, items: list[T]) -> None:
        self.items = items
        self._next = 0
        self._lock = Lock("scavenge-items")

    def claim(self) -> T | None:
        with self._lock:
            index = self._next
            self._next += 1
        return self.items[index] if index < len(self.items) else None


class Worklist:
    """Global pool of published segments, with termination detection for ``tasks`` tasks."""

    def __init__(self, tasks: int, aborted: Callable[[], bool], faults: frozenset[str] = frozenset()) -> None:
        self.tasks = tasks
        self.lock = Lock("scavenge-worklist")
        self.changed = Condition(self.lock, "scavenge-worklist")
        self.segments: list[list[HeapObject]] = []
        self.idle = 0
        self.done = False
        self._aborted = aborted
        self._unlocked_steal = "unlocked-steal" in faults

    def publish(self, segment: list[HeapObject]) -> None:
        with self.lock:
            point("worklist-publish-read")
            segments = self.segments
            point("worklist-publish-write")
            self.segments = [*segments, segment]
            self.changed.notify_all()

    def steal(self) -> list[HeapObject] | None:
        if self._unlocked_steal:
            return self._take()
        with self.lock:
            return self._take()

    def _take(self) -> list[HeapObject] | None:
        point("worklist-steal-read")
        segments = self.segments
        if not segments:
            return None
        point("worklist-steal-write")
        self.segments = segments[:-1]
        return segments[-1]

    def wait_for_work(self) -> bool:
        """Go idle until work is published (True) or every task is idle (False: done)."""
        with self.lock:
            self.idle += 1
            if self.idle == self.tasks and not self.segments:
                self.done = True
                self.changed.notify_all()
                return False
            self.changed.wait_for(lambda: bool(self.segments) or self.done, abandon=self._aborted)
            if self.done or self._aborted():
                return False
            self.idle -= 1
            return True
