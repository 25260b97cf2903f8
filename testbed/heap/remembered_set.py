"""The OLD_TO_NEW remembered set: every old-space slot that may hold a young object.

Mirrors V8's ``RememberedSet<OLD_TO_NEW>`` (src/heap/remembered-set.h) in the
era of the store buffer: mutators' store buffers are moved into it under one
mutex (``StoreBuffer::MoveEntriesToRememberedSet``), and the scavenger reads
it as a root set, keeping a slot only while its target is still young.
Slots are page-local word addresses in each page's :class:`SlotSet`.

Two kinds of writer, two ways of synchronizing.  Mutators' flushes and
slot clearing, and the sweeper's ``RemoveRange``, take the remembered set's
mutex: they run at the same time.  The scavenger's writes (recording a
promoted object's young field, dropping a slot whose target left new space,
releasing empty buckets) are atomic among its tasks (V8's
``Insert<AccessMode::ATOMIC>``) and do not take the mutex: mutators are
stopped and the sweeper is paused meanwhile ("Sweeper is stopped during
scavenge, so we can directly insert into its remembered set here",
src/heap/scavenger.cc).  The sweeper clears a cell by reading it and storing
it back masked, so an atomic write that lands in between is undone.

Simplified: one mutex guards every page's slot set and is held for a whole
flush; an atomic slot-set write is a second lock around the whole write;
store buffers hold (host, field index) pairs, turned into page-local word
addresses here.

With ``bundled`` (``Config.card_chunk_cells``, the .NET card-marking
model of docs/bugs/dotnet-117968-card-clear-past-chunk.md) an insertion
leaves an already-set bit alone, summary and all, and the scavenger's tasks
clear slots by range inside their own chunk without a lock
(:meth:`clear_cards`), then clear the summary bits of cells they emptied
(:meth:`clear_empty_summaries`, atomic among tasks).

Fault ``unlocked-remset-insert`` skips the lock, so two flushing threads can
interleave inside a slot-set read-modify-write and one thread's slot is
lost; nothing here notices, the verifier finds the old-to-young slot missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from testbed.heap.objects import HeapObject
from testbed.heap.pages import Page
from testbed.sched import Lock, point

__all__ = ["RememberedSet"]


class RememberedSet:
    """Slot sets of old pages, guarded by one lock."""

    def __init__(self, faults: frozenset[str] = frozenset(), bundled: bool = False) -> None:
        self.lock = Lock("remembered-set")
        #: .NET's card marking: an insertion finding its bit set writes nothing
        self.bundled = bundled
        #: the scavenger tasks' atomic slot-set writes (a CAS in V8; the mutex is not taken)
        self.atomic = Lock("remembered-set-atomic")
        self._unlocked = "unlocked-remset-insert" in faults
        self.inserts = 0

    def insert_batch(self, slots: Iterable[tuple[HeapObject, int]]) -> None:
        """Record each (host, field index); one lock acquisition per batch."""
        if self._unlocked:
            self._insert_all(slots)
            return
        with self.lock:
            self._insert_all(slots)

    def _insert_all(self, slots: Iterable[tuple[HeapObject, int]]) -> None:
        count = 0
        for host, index in slots:
            host.page.slot_set.insert(host.slot_address(index), self.bundled)
            count += 1
        self.inserts += count

    def record(self, host: HeapObject, index: int) -> None:
        """Record one slot from the scavenger (a promoted object's young field), atomically.

        Scavenger tasks record concurrently with each other (V8 inserts
        atomically here), never with mutators, and not with the sweeper
        only because it is paused: the mutex is not taken.
        """
        point("remset-record", host.lid)
        if self._unlocked:
            self._insert_all(((host, index),))
            return
        with self.atomic:
            self._insert_all(((host, index),))

    def remove(self, host: HeapObject, index: int) -> None:
        """Drop one slot (the scavenger filtering slots whose target left new space), atomically."""
        with self.atomic:
            host.page.slot_set.remove(host.slot_address(index))

    def clear_recorded_slots(self, host: HeapObject, start: int, stop: int) -> None:
        """Clear fields ``start..stop-1`` of ``host`` (V8's ``ClearRecordedSlotRange``), under the lock.

        A mutator clears while other threads flush into the same cells, so
        it takes the lock a flush takes.
        """
        point("remset-clear", host.lid)
        with self.lock:
            slot_set = host.page.slot_set
            for index in range(start, stop):
                slot_set.remove(host.slot_address(index))

    def remove_range(self, page: Page, start: int, end: int) -> None:
        """Drop every slot in words ``[start, end)`` of ``page`` (memory the sweeper freed).

        V8's sweeper calls ``RememberedSet<OLD_TO_NEW>::RemoveRange`` for each
        free range it finds.  Under the mutex: mutators flush store buffers
        into the same slot sets while a concurrent sweep runs.  Each cell is
        read, then stored back masked; the scavenger's atomic writes do not
        wait for the mutex (the sweeper is paused during a scavenge).
        """
        with self.lock:
            page.slot_set.clear_range(start, end)

    def release_empty_buckets(self, page: Page) -> None:
        """The scavenger, after filtering a page: free its empty buckets (atomic among its tasks)."""
        with self.atomic:
            page.slot_set.release_empty_buckets()

    @staticmethod
    def clear_cards(page: Page, start: int, end: int) -> None:
        """The scavenger: clear words ``[start, end)`` of ``page`` with no lock (its chunk is its own)."""
        page.slot_set.clear_cards(start, end)

    def clear_empty_summaries(self, page: Page, start: int, end: int) -> None:
        """The scavenger, after its chunk: clear the summary bits of its empty cells (atomic among tasks)."""
        point("card-bundle-clear", page.index)
        with self.atomic:
            page.slot_set.clear_empty_summaries(start, end)

    def contains(self, host: HeapObject, index: int) -> bool:
        return host.page.slot_set.contains(host.slot_address(index))

    @staticmethod
    def slots_of(page: Page) -> Iterator[tuple[HeapObject, int]]:
        """(host, field index) of every remembered slot on ``page``, by address."""
        for address in list(page.slot_set.addresses()):
            host = page.object_at(address)
            if host is None:
                continue
            yield host, address - host.offset - 1
