"""Pages: fixed-size chunks of words that spaces are made of.

Mirrors V8's ``MemoryChunk``/``Page``: a page knows its owning space and
carries the page-local part of the remembered set (its slot set, see
:mod:`testbed.heap.slot_set`).  ``words`` maps every allocated word address to
the object covering it, which is how a remembered slot address (all V8 keeps)
is turned back into a host object and field index.

Simplified: sizes are in words and pages hold a few hundred words (512 by
default), so small runs see many pages fill; ``words`` is the model's own
bookkeeping, not a V8 structure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from testbed.heap.objects import Map, poison
from testbed.heap.slot_set import SlotSet

if TYPE_CHECKING:
    from testbed.heap.objects import HeapObject

__all__ = ["Page"]


class Page:
    """``capacity`` words owned by space ``owner``; ``index`` orders pages in it."""

    __slots__ = ("capacity", "index", "name", "owner", "slot_set", "words", "young")

    def __init__(self, owner: str, index: int, capacity: int, young: bool = False) -> None:
        self.owner = owner
        #: in new space (either semispace); fixed for the page's life
        self.young = young
        self.index = index
        self.capacity = capacity
        self.name = f"{owner}:{index}"
        self.words: list[HeapObject | None] = [None] * capacity
        self.slot_set = SlotSet(capacity)

    def place(self, obj: HeapObject) -> None:
        """Record that ``obj`` now covers its words, overwriting whatever they held.

        Memory handed out again (old space's free list) held a freed object;
        writing the new object's words overwrites the old one's, so an
        object still reachable there reads poison from now on, as a stale
        pointer into reused memory in V8 reads the new object's words.  The
        words of the old occupant beyond the new object are free memory
        (V8 leaves a filler there), covered by no object.
        """
        words = self.words
        end = obj.offset + obj.size
        for address in range(obj.offset, end):
            previous = words[address]
            if previous is not None and previous is not obj:
                self._overwrite(previous, obj.offset, end)
            words[address] = obj

    def _overwrite(self, previous: HeapObject, start: int, end: int) -> None:
        """``previous``'s memory is reused for words ``[start, end)``: it is gone."""
        if previous.map_word is not Map.FREED:
            poison(previous, Map.FREED)
        words = self.words
        for address in range(previous.offset, min(previous.offset + previous.size, len(words))):
            if words[address] is previous and not start <= address < end:
                words[address] = None

    def object_at(self, address: int) -> HeapObject | None:
        """The object covering ``address``, if any."""
        return self.words[address]

    def objects(self) -> Iterator[HeapObject]:
        """Objects in address order, as a heap iterator walks them."""
        words = self.words
        address = 0
        while address < self.capacity:
            obj = words[address]
            if obj is None or obj.offset != address:
                address += 1
                continue
            yield obj
            address += obj.size

    def release(self) -> None:
        """Zap every object on the page (V8's ``ZapFromSpace``): each one is poisoned.

        Costs one pass over the page's objects, dead or alive, as V8's zapping
        costs one pass over the semispace; a stale reference into the page then
        reads poison instead of the fields the object had.
        """
        for obj in list(self.objects()):
            if obj.map_word is not Map.ZAPPED:
                poison(obj, Map.ZAPPED)

    def reset(self) -> None:
        """Forget every object (the page is reused from empty)."""
        self.words = [None] * self.capacity
        self.slot_set = SlotSet(self.capacity)

    def __repr__(self) -> str:
        return f"<Page {self.name}>"
