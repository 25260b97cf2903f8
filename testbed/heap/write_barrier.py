"""The generational write barrier: every field store goes through here.

Mirrors the slow path of V8's generational barrier
(``Heap_GenerationalBarrierSlow`` in src/heap/heap-write-barrier.cc): when an
old host now points at a young value, the slot is recorded so the next
scavenge treats it as a root.  Young hosts need nothing: the scavenger visits
every live young object anyway.

Simplified: only the generational part. There is no marking barrier, because
the model's marking runs with the world stopped, and every old-to-young
store is appended, duplicates included.
"""

from __future__ import annotations

from testbed.heap.objects import HeapObject, Tagged
from testbed.heap.store_buffer import StoreBuffer
from testbed.sched import point

__all__ = ["is_old_to_young", "write_field"]


def is_old_to_young(host: HeapObject, value: Tagged) -> bool:
    return isinstance(value, HeapObject) and value.page.young and not host.page.young


def write_field(host: HeapObject, index: int, value: Tagged, store_buffer: StoreBuffer | None) -> None:
    """Store ``value`` into ``host.fields[index]``, then run the barrier.

    ``store_buffer=None`` is a store without the barrier (only the collector,
    which records slots itself, and a fault may do that).
    """
    point("field-store", host.lid)
    host.fields[index] = value
    if store_buffer is not None and is_old_to_young(host, value):
        store_buffer.append(host, index)
