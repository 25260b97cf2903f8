"""One scavenger task's copying machinery: its LABs, the forwarding CAS, its counters.

Mirrors ``Scavenger::ScavengeObject`` / ``EvacuateObjectDefault`` and
``MigrateObject`` (src/heap/scavenger-inl.h): allocate the copy (in to-space,
or in old space when the object is below the age mark or to-space is full),
then install the forwarding address in the original's map word with a
release compare-and-swap.  A task that loses the race finds the winner's
address in the map word, gives its own copy up and uses the winner's
(V8 frees the allocation or leaves a filler; here the copy is marked freed).

Fields of a promoted object that still point into new space are recorded in
the remembered set; a remembered slot is kept only while its target stays
young.

Simplified: the compare-and-swap is a scheduling point, then reading and
writing the map word under :func:`~testbed.sched.atomic_word` (a striped raw
lock keyed by the object, so tasks installing different objects never
contend: on a free-threaded build they really run at once, as V8's tasks
CAS different map words at once); a copy is a new Python object (no bytes are copied); an object is
promoted only by the age mark or when to-space is full.

Faults: ``racy-forwarding`` installs forwarding by check-then-set, so two
tasks can both "win" and the object ends up with two copies;
``promote-without-remset`` forgets to record promoted objects' young fields;
``card-clear-past-chunk`` (.NET, dotnet/runtime#117968) lets a task's range
of cleared slots run past its chunk into the next task's cell, as .NET's
``card_transition`` did before the fix clamped it to the card stealing unit.
"""

from __future__ import annotations

from collections.abc import Callable

from testbed.heap import NEW_FROM, Heap, HeapObject, LinearAllocationBuffer, Map, Page, RememberedSet, Tagged, poison
from testbed.heap.layout import tagged_fields
from testbed.sched import atomic_word, point

__all__ = ["Evacuator"]


class Evacuator:
    """Per-task state of one scavenge."""

    def __init__(
        self,
        heap: Heap,
        faults: frozenset[str],
        name: str,
        on_slot_read: Callable[[HeapObject, int, Tagged], None] | None = None,
    ) -> None:
        self.heap = heap
        self.name = name
        #: told of every remembered slot this task reads (host, field index, value), as it reads it
        self._on_slot_read = on_slot_read
        #: this task's local worklist segment (LIFO)
        self.grey: list[HeapObject] = []
        self.to_lab: LinearAllocationBuffer | None = None
        self.old_lab: LinearAllocationBuffer | None = None
        self.copied = 0
        self.promoted = 0
        self.races_lost = 0
        self.steals = 0
        self.slots_kept = 0
        self.slots_dropped = 0
        self._racy = "racy-forwarding" in faults
        self._record_promoted = "promote-without-remset" not in faults
        self._unclamped = "card-clear-past-chunk" in faults
        #: with chunks (.NET card marking): promoted objects' young fields, recorded
        #: only once every task has walked its chunks (ScavengeJob.finish)
        self.deferred: list[tuple[HeapObject, int]] | None = [] if heap.card_chunk_cells else None

    # -- evacuation ------------------------------------------------------------

    def evacuate(self, obj: HeapObject) -> HeapObject:
        """The object's new location: its forwardee, or a fresh copy we installed."""
        forwardee = obj.forwardee
        if forwardee is not None:
            return forwardee
        promote = self.heap.new_space.below_age_mark(obj.page, obj.offset)
        copy = None if promote else self._place(obj, old=False)
        promoted = copy is None
        if copy is None:
            copy = self._place(obj, old=True)
        winner = self._install_racy(obj, copy) if self._racy else self._install(obj, copy)
        if winner is not copy:
            poison(copy, Map.FREED)  # the loser gives its copy up
            self.races_lost += 1
            return winner
        if promoted:
            self.promoted += 1
        else:
            self.copied += 1
        self.grey.append(copy)
        return copy

    def _install(self, obj: HeapObject, copy: HeapObject) -> HeapObject:
        """Compare-and-swap the map word from the map to ``copy``; the winner's copy."""
        point("forwarding-cas", obj.lid)
        with atomic_word(obj.lid):
            current = obj.map_word
            if isinstance(current, HeapObject):
                return current
            obj.map_word = copy
            return copy

    def _install_racy(self, obj: HeapObject, copy: HeapObject) -> HeapObject:
        # The bug: the "is it forwarded yet?" check at the top of evacuate()
        # and this store are separate steps, so two tasks can both store.
        point("forwarding-store", obj.lid)
        obj.map_word = copy
        return copy

    def _place(self, obj: HeapObject, old: bool) -> HeapObject | None:
        heap = self.heap
        size = obj.size
        for _ in range(2):
            lab = self.old_lab if old else self.to_lab
            if lab is not None:
                # The copy takes the original's map and fields word for word.
                copy = heap.place(lab, obj.map, list(obj.fields), obj.lid)
                if copy is not None:
                    return copy
            if old:
                self.old_lab = heap.old_space.allocate_lab(max(heap.lab_words, size), size)
            else:
                self.to_lab = heap.new_space.allocate_lab(max(heap.lab_words, size), size)
                if self.to_lab is None:
                    return None  # to-space full: the caller promotes instead
        raise AssertionError("a fresh LAB could not hold the object")

    # -- visiting --------------------------------------------------------------

    def visit_roots(self, area: list[Tagged], start: int = 0, stop: int | None = None) -> None:
        """Evacuate what root slots ``area[start:stop]`` refer to and update the slots."""
        for index in range(start, len(area) if stop is None else stop):
            value = area[index]
            if isinstance(value, HeapObject) and value.page.owner == NEW_FROM:
                area[index] = self.evacuate(value)

    def visit_remembered_page(self, page: Page) -> None:
        """Evacuate the targets of ``page``'s remembered slots; keep a slot only if still young.

        A remembered slot is trusted to be a tagged field, as V8's scavenger
        trusts its slot set: whoever changes a layout must clear the slots of
        the words that stop being tagged (:mod:`testbed.heap.normalize`).
        """
        remembered_set = self.heap.remembered_set
        for host, index in RememberedSet.slots_of(page):
            if self._update_remembered_slot(host, index):
                self.slots_kept += 1
            else:
                remembered_set.remove(host, index)
                self.slots_dropped += 1
        remembered_set.release_empty_buckets(page)

    def _update_remembered_slot(self, host: HeapObject, index: int) -> bool:
        """Evacuate the target of one remembered slot; whether the slot still points into new space."""
        point("remset-scan", host.lid)
        value = host.fields[index]
        if self._on_slot_read is not None:
            self._on_slot_read(host, index, value)
        if isinstance(value, HeapObject) and value.page.owner == NEW_FROM:
            value = host.fields[index] = self.evacuate(value)
        return isinstance(value, HeapObject) and value.page.young

    def visit_remembered_chunk(self, page: Page, start: int, end: int) -> None:
        """The remembered slots in words ``[start, end)`` of ``page``: one chunk, .NET-style.

        .NET's ``mark_through_cards_for_segments`` with card marking
        stealing (src/coreclr/gc/gc.cpp): a task walks the set bits of its
        chunk (cells whose summary bit is clear are skipped), updates each
        slot, and clears a run of slots it no longer needs in one
        ``clear_cards`` call once it meets a slot it keeps
        (``card_transition``); a run still open at the chunk's end stops
        there (the fix of dotnet/runtime#117968).  Then the summary bits of
        the chunk's empty cells are cleared.  No lock: the chunk's cells are
        this task's alone.
        """
        remembered_set = self.heap.remembered_set
        slot_set = page.slot_set
        run_start: int | None = None
        for address in list(slot_set.addresses(start, end)):
            host = page.object_at(address)
            if host is None:
                continue
            if self._update_remembered_slot(host, address - host.offset - 1):
                self.slots_kept += 1
                if run_start is not None:
                    remembered_set.clear_cards(page, run_start, address)
                    run_start = None
            else:
                self.slots_dropped += 1
                if run_start is None:
                    run_start = address
        if run_start is not None:
            # The fix clamps the run to the chunk.  Before it, a host straddling
            # the chunk's end was scanned on, and the run reached its next set
            # slot past the end (.NET: the card of its next reference field).
            stop = end
            if self._unclamped:
                stop = self._straddling_set_slot(page, end) or end
            remembered_set.clear_cards(page, run_start, stop)
        remembered_set.clear_empty_summaries(page, start, end)

    @staticmethod
    def _straddling_set_slot(page: Page, end: int) -> int | None:
        """The first set slot past ``end`` of the host covering word ``end - 1``, if it straddles ``end``."""
        host = page.object_at(end - 1) if end < page.capacity else None
        if host is None:
            return None
        found = page.slot_set.next_set(end)
        return found if found is not None and found < host.offset + host.size else None

    def scan(self, obj: HeapObject) -> None:
        """Update ``obj``'s fields; record a promoted object's young fields."""
        old_host = not obj.page.young
        fields = obj.fields
        for index in tagged_fields(obj):  # untagged words are data, never visited
            value = fields[index]
            if not isinstance(value, HeapObject):
                continue
            if value.page.owner == NEW_FROM:
                value = fields[index] = self.evacuate(value)
            if old_host and value.page.young and self._record_promoted:
                if self.deferred is not None:
                    # A chunk's walker clears its cells without a lock: a bit set
                    # in them meanwhile could be lost.  .NET sets the cards of
                    # promoted objects after marking through cards, too.
                    self.deferred.append((obj, index))
                else:
                    self.heap.remembered_set.record(obj, index)

    def give_up_labs(self) -> None:
        self.to_lab = None
        self.old_lab = None
