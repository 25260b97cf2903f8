"""The heap: new space, old space, the remembered set and allocation.

Mirrors the allocation side of V8's ``Heap`` and ``MainAllocator``: each
thread allocates from its own LABs (see :class:`ThreadAllocator`); a young
allocation that cannot get a new LAB returns ``None``, which is the
allocation slow path's cue to request a scavenge (``AllocationResult::Failure``
followed by ``CollectGarbage(NEW_SPACE)``).  Old-space allocation never fails
in the model.

Old-space LABs come from the free list the sweeper fills before the space
bumps (see :mod:`testbed.heap.free_list`).

Simplified further: there is no large-object space, a thread's LAB
remainder is dropped when it takes a new LAB, and every code object gets a
LAB of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

from testbed.heap.code import Code, WeakCodeList
from testbed.heap.lab import LinearAllocationBuffer
from testbed.heap.objects import HeapObject, Kind, Map, Tagged
from testbed.heap.remembered_set import RememberedSet
from testbed.heap.spaces import CODE, NewSpace, OldSpace
from testbed.sched import AtomicCounter

__all__ = ["Heap", "ThreadAllocator"]


class Heap:
    """All spaces of one isolate."""

    def __init__(
        self,
        new_space_pages: int = 4,
        page_words: int = 512,
        lab_words: int = 32,
        faults: frozenset[str] = frozenset(),
        card_chunk_cells: int = 0,
    ) -> None:
        if new_space_pages < 1 or page_words < 64 or lab_words < 8:
            raise ValueError("heap needs >=1 new-space page, >=64 words a page, >=8 words a LAB")
        self.new_space = NewSpace(new_space_pages, page_words)
        self.old_space = OldSpace(page_words)
        self.code_space = OldSpace(page_words, CODE)
        self.weak_code_list = WeakCodeList(faults)
        self.remembered_set = RememberedSet(faults, bundled=card_chunk_cells > 0)
        #: slot-set cells a scavenger task claims at once (.NET's card stealing unit); 0: whole pages
        self.card_chunk_cells = card_chunk_cells
        self.lab_words = lab_words
        # Any thread allocates, so the next id is an atomic fetch-and-add (3.13t's
        # itertools.count is not thread-safe); ids are unique and, in a
        # controlled run, deterministic.
        self._lids = AtomicCounter(1)

    def next_lid(self) -> int:
        return self._lids.fetch_add()

    @staticmethod
    def place(lab: LinearAllocationBuffer, kind: Kind | Map, fields: list[Tagged], lid: int) -> HeapObject | None:
        """Place an object with ``fields`` in ``lab``; None when it does not fit."""
        offset = lab.bump(1 + len(fields))
        if offset is None:
            return None
        obj = HeapObject(lid, kind, fields, lab.page, offset)
        lab.page.place(obj)
        return obj

    def allocate_code(self, optimized: bool, function: object, deopt_data: object) -> Code:
        """A code object in code space (compilation; any thread, under the space's lock)."""
        lab = self.code_space.allocate_lab(3, 3)
        offset = lab.bump(3)
        assert offset is not None
        code = Code(self.next_lid(), lab.page, offset, optimized, function, deopt_data)
        lab.page.place(code)
        return code

    def code_objects(self) -> Iterator[Code]:
        for page in list(self.code_space.pages):
            for obj in page.objects():
                assert isinstance(obj, Code)
                yield obj

    def old_objects(self) -> Iterator[HeapObject]:
        for page in list(self.old_space.pages):
            yield from page.objects()

    def young_objects(self) -> Iterator[HeapObject]:
        for page in self.new_space.to_space.pages:
            yield from page.objects()


class ThreadAllocator:
    """One thread's LABs in new and old space."""

    __slots__ = ("heap", "old_lab", "young_lab")

    def __init__(self, heap: Heap) -> None:
        self.heap = heap
        self.young_lab: LinearAllocationBuffer | None = None
        self.old_lab: LinearAllocationBuffer | None = None

    def lab_for(self, size: int, old: bool) -> LinearAllocationBuffer | None:
        """This thread's LAB in old or new space with room for ``size`` words (a fresh one if needed).

        None when new space is full; old space never fails.
        """
        heap = self.heap
        if old:
            lab = self.old_lab
            if lab is None or lab.top + size > lab.limit:
                lab = self.old_lab = heap.old_space.allocate_lab(max(heap.lab_words, size), size)
            return lab
        lab = self.young_lab
        if lab is None or lab.top + size > lab.limit:
            lab = heap.new_space.allocate_lab(max(heap.lab_words, size), size)
            if lab is None:
                return None
            self.young_lab = lab
        return lab

    def allocate(self, kind: Kind, fields: int, old: bool = False) -> HeapObject | None:
        """A fresh object with empty fields, or None when new space is full."""
        heap = self.heap
        values: list[Tagged] = [None] * fields
        lab = self.lab_for(1 + fields, old)
        if lab is None:
            return None
        lid = heap.next_lid()
        obj = heap.place(lab, kind, values, lid)
        assert obj is not None
        return obj

    def give_up_labs(self) -> None:
        """Drop both LABs: the pages under them are about to change."""
        self.young_lab = None
        self.old_lab = None
