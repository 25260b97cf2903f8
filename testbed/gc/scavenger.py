"""The scavenger: a semispace copying collection of new space.

Mirrors V8's ``ScavengerCollector::CollectGarbage`` (src/heap/scavenger.cc)
run by a single task: flip the semispaces, evacuate everything the roots
(global handles, every thread's handle scopes and frames) and the OLD_TO_NEW
remembered set point at, then process copied objects Cheney-style until no
grey object is left.  An object below the age mark has survived once and is
promoted to old space (``ShouldBePromoted``); a promoted object whose fields
still point into new space gets those slots recorded in the remembered set.
Remembered slots are kept only while their target stays young
(``RememberedSet::IterateAndTrackEmptyBuckets`` returning KEEP_SLOT or
REMOVE_SLOT).  After the copy, from-space is zapped.

The parallel collector of a later issue replaces this single task with
worker threads; the evacuation steps are the same.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from testbed.heap import NEW_FROM, Heap, HeapObject, LinearAllocationBuffer, Map, RememberedSet
from testbed.sched import point

if TYPE_CHECKING:
    from testbed.runtime import Isolate

__all__ = ["SerialScavenger"]


class SerialScavenger:
    """One Cheney scavenge at a time, on the thread that stopped the world."""

    def scavenge(self, isolate: Isolate) -> None:
        _Scavenge(isolate).run()


class _Scavenge:
    """State of one collection."""

    def __init__(self, isolate: Isolate) -> None:
        self.isolate = isolate
        self.heap: Heap = isolate.heap
        self.grey: deque[HeapObject] = deque()
        self.to_lab: LinearAllocationBuffer | None = None
        self.old_lab: LinearAllocationBuffer | None = None
        self.copied = 0
        self.promoted = 0

    def run(self) -> None:
        heap = self.heap
        new_space = heap.new_space
        new_space.flip()
        for area in self.isolate.root_areas():
            for index, value in enumerate(area):
                if isinstance(value, HeapObject) and value.page.owner == NEW_FROM:
                    area[index] = self.evacuate(value)
        kept, dropped = self.scan_remembered_set()
        self.process_grey()
        for page in new_space.from_space.pages:
            for obj in page.objects():
                obj.map_word = Map.ZAPPED
        new_space.set_age_mark()
        stats = self.isolate.stats
        stats.copied += self.copied
        stats.promoted += self.promoted
        stats.remset_slots_kept += kept
        stats.remset_slots_dropped += dropped

    def scan_remembered_set(self) -> tuple[int, int]:
        """Evacuate remembered targets; keep a slot only if it still points into new space."""
        kept = dropped = 0
        for page in list(self.heap.old_space.pages):
            slot_set = page.slot_set
            for host, index in RememberedSet.slots_of(page):
                point("remset-scan", host.lid)
                value = host.fields[index]
                if isinstance(value, HeapObject) and value.page.owner == NEW_FROM:
                    value = host.fields[index] = self.evacuate(value)
                if isinstance(value, HeapObject) and value.page.young:
                    kept += 1
                else:
                    slot_set.remove(host.slot_address(index))
                    dropped += 1
            slot_set.release_empty_buckets()
        return kept, dropped

    def process_grey(self) -> None:
        remembered_set = self.heap.remembered_set
        while self.grey:
            obj = self.grey.popleft()
            old_host = not obj.page.young
            fields = obj.fields
            for index, value in enumerate(fields):
                if not isinstance(value, HeapObject):
                    continue
                if value.page.owner == NEW_FROM:
                    value = fields[index] = self.evacuate(value)
                if old_host and value.page.young:
                    remembered_set.record(obj, index)

    def evacuate(self, obj: HeapObject) -> HeapObject:
        """The object's new location: its existing forwardee, or a fresh copy."""
        forwardee = obj.forwardee
        if forwardee is not None:
            return forwardee
        heap = self.heap
        promote = heap.new_space.below_age_mark(obj.page, obj.offset)
        copy = None if promote else self._place(obj, old=False)
        if copy is None:
            copy = self._place(obj, old=True)
            self.promoted += 1
        else:
            self.copied += 1
        point("forwarding-install", obj.lid)
        obj.map_word = copy
        self.grey.append(copy)
        return copy

    def _place(self, obj: HeapObject, old: bool) -> HeapObject | None:
        heap = self.heap
        size = obj.size
        for _ in range(2):
            lab = self.old_lab if old else self.to_lab
            if lab is not None:
                copy = heap.place(lab, obj.kind, list(obj.fields), obj.lid)
                if copy is not None:
                    return copy
            if old:
                self.old_lab = heap.old_space.allocate_lab(max(heap.lab_words, size), size)
            else:
                self.to_lab = heap.new_space.allocate_lab(max(heap.lab_words, size), size)
                if self.to_lab is None:
                    return None  # to-space full: the caller promotes instead
        raise AssertionError("a fresh LAB could not hold the object")
