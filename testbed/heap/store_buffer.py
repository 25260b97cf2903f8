"""Per-thread store buffers: where the write barrier parks old-to-young slots.

Mirrors V8's historic ``StoreBuffer`` (src/heap/store-buffer.cc, since
removed; see docs/v8-mapping.md): the barrier appends the slot to the
running thread's buffer without synchronisation; a full buffer is moved
into the remembered set under its lock, and so is every buffer before a
scavenge starts, because the scavenger reads only the remembered set.

Simplified, and a model choice: V8 had one store buffer per heap (the one
in V8 7.3 had two halves, a full half moved on a background task); the
model gives every mutator thread its own single buffer of (host, field
index) pairs, flushed synchronously, so that flushes of different threads
race into the remembered set.

Fault ``store-buffer-overflow-drop`` empties a full buffer without moving
its entries: the slots are simply forgotten.
"""

from __future__ import annotations

from testbed.heap.objects import HeapObject
from testbed.heap.remembered_set import RememberedSet
from testbed.sched import point

__all__ = ["StoreBuffer"]


class StoreBuffer:
    """Up to ``capacity`` (host, field index) entries owned by one thread."""

    __slots__ = ("_drop_on_overflow", "capacity", "entries", "flushes", "overflows", "remembered_set")

    def __init__(self, capacity: int, remembered_set: RememberedSet, faults: frozenset[str] = frozenset()) -> None:
        if capacity < 1:
            raise ValueError(f"store buffer capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.remembered_set = remembered_set
        self.entries: list[tuple[HeapObject, int]] = []
        self.flushes = 0
        self.overflows = 0
        self._drop_on_overflow = "store-buffer-overflow-drop" in faults

    def append(self, host: HeapObject, index: int) -> None:
        point("store-buffer-append", host.lid)
        if len(self.entries) >= self.capacity:
            self.overflows += 1
            if self._drop_on_overflow:
                self.entries.clear()
            else:
                self.flush()
        self.entries.append((host, index))

    def flush(self) -> None:
        """Move every entry into the remembered set (``flush_into`` its owner's set)."""
        self.flush_into(self.remembered_set)

    def flush_into(self, remembered_set: RememberedSet) -> None:
        point("store-buffer-flush", len(self.entries))
        if not self.entries:
            return
        entries, self.entries = self.entries, []
        remembered_set.insert_batch(entries)
        self.flushes += 1

    def remove_range(self, host: HeapObject, start: int, stop: int) -> None:
        """Forget entries for fields ``start..stop-1`` of ``host`` (they stopped being tagged).

        Only the owning thread touches its buffer, so this needs no lock.
        """
        point("store-buffer-clear", host.lid)
        self.entries = [(h, i) for h, i in self.entries if h is not host or not start <= i < stop]

    def __len__(self) -> int:
        return len(self.entries)
