"""The scavenger's shared work: claimable items and a work-stealing worklist.

Mirrors V8's parallel scavenge job (src/heap/scavenger.cc) and
``heap::base::Worklist`` (src/heap/base/worklist.h): roots and
remembered-set pages are *items* that tasks claim with an atomic increment;
objects still to be scanned live in each task's private local segment, and
a task with more than it needs publishes a segment to a global pool where
idle tasks steal it.  The global pool is a list of segments guarded by a
lock.  A task that finds no item, nothing local and nothing in the pool
returns, as V8's ``Scavenger::Process`` does, even while other tasks still
scan their local segments: those tasks check the pool again before they
return, so every segment is taken by its publisher if by no one else.  The
scavenge is over only when every task has returned (V8's ``JobHandle::Join``).

The item counter is an atomic fetch-and-add (:class:`~testbed.sched.AtomicCounter`)
after a scheduling point, as V8's is a ``std::atomic``: on a free-threaded
build every task claims at once without a lock to queue on.

Simplified: a task publishes the older half of its local list once it holds more than
``Config.worklist_segment`` objects (8; V8's segments hold 256 entries, 64 in its
first parallel scavenger, for far larger heaps); V8's job asks the platform for more workers when
the pool grows (``GetMaxConcurrency``), here a task that has returned is not
run again.

Fault ``unlocked-steal`` makes stealing a bare read-then-write of the pool:
a segment published between the read and the write is overwritten and its
objects are never scanned.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from testbed.heap import HeapObject
from testbed.sched import AtomicCounter, Lock, point

__all__ = ["ItemQueue", "Worklist"]

T = TypeVar("T")


class ItemQueue(Generic[T]):
    """Items claimed one at a time by index (``std::atomic<size_t>::fetch_add``)."""

    def __init__(self, items: list[T]) -> None:
        self.items = items
        self._next = AtomicCounter()

    def claim(self) -> T | None:
        point("scavenge-item-claim")
        index = self._next.fetch_add()
        return self.items[index] if index < len(self.items) else None


class Worklist:
    """Global pool of published segments shared by ``tasks`` tasks."""

    def __init__(self, tasks: int, faults: frozenset[str] = frozenset()) -> None:
        self.tasks = tasks
        self.lock = Lock("scavenge-worklist")
        self.segments: list[list[HeapObject]] = []
        self._unlocked_steal = "unlocked-steal" in faults

    def publish(self, segment: list[HeapObject]) -> None:
        with self.lock:
            point("worklist-publish-read")
            segments = self.segments
            point("worklist-publish-write")
            self.segments = [*segments, segment]

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
