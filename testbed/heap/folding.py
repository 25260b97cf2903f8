"""Allocation folding: one allocation carved into several objects, and its barrier elision.

Mirrors what V8's optimizing compilers did with allocation folding
(Crankshaft's ``HAllocate`` dominators, later ``MemoryOptimizer``): several
allocations of one optimized function are merged into one bump of the
allocation top, and the objects are carved out of it.  The initializing
stores that follow, with no allocation or stack check in between, may skip
the write barrier when the group is young: a young host needs no
remembered slot, and no scavenge can run before the stores.  Crankshaft
decided that per store (``HStoreNamedField::NeedsWriteBarrier`` consults
the store's dominating allocation, ``new_space_dominator``).  For folded
old-space allocations it also wrote a free-space filler over the part not
yet carved, to keep the page walkable; the model's groups are carved
whole, so they need none.

A pretenured group (allocated in old space because its allocation site
was tenured) is different: its objects are old, so a young value stored
into one must be recorded.  For the crash of nodejs/node#5900, Node's
nodejs/node#7303 (for Node 4) proposed not folding pretenured allocations
at all; whether and as which commit it landed is unconfirmed.  The model's
correct path does the same: :func:`fold` refuses an old group, and the
caller allocates its objects one by one with barriers.

Fault ``barrier-elided-for-pretenured-fold`` folds the pretenured group
anyway and elides the barrier of its initializing stores as if it were
young: old-to-young slots that no remembered set or store buffer holds.
This is one reading of nodejs/node#5900, not a confirmed account: #7303
says the crash needed a pretenured site, folding and a store-buffer
overflow together, and the model's version needs no overflow (the model's
store buffer has no scan-on-scavenge pages, through which an overflow
mattered in the V8 of that time; see
docs/bugs/barrier-elided-for-pretenured-fold.md).
"""

from __future__ import annotations

from testbed.heap.heap import ThreadAllocator
from testbed.heap.objects import HeapObject, Kind, Tagged
from testbed.heap.store_buffer import StoreBuffer
from testbed.heap.write_barrier import write_field

__all__ = ["allocate_folded", "fold", "initialize_folded"]


def fold(old: bool, faults: frozenset[str] = frozenset()) -> bool:
    """Whether an allocation group is folded: young ones are; pretenured ones only under the fault."""
    return not old or "barrier-elided-for-pretenured-fold" in faults


def allocate_folded(allocator: ThreadAllocator, sizes: list[int], old: bool) -> list[HeapObject] | None:
    """Objects with ``sizes`` fields carved from one bump of a LAB; None when new space is full.

    The group is contiguous, as V8's folded allocation is: one top bump,
    then each object's map word written at its offset.
    """
    heap = allocator.heap
    total = sum(1 + size for size in sizes)
    lab = allocator.lab_for(total, old)
    if lab is None:
        return None
    offset = lab.bump(total)
    assert offset is not None
    objects = []
    for size in sizes:
        obj = HeapObject(heap.next_lid(), Kind.PLAIN, [None] * size, lab.page, offset)
        lab.page.place(obj)
        objects.append(obj)
        offset += obj.size
    return objects


def initialize_folded(
    objects: list[HeapObject], last_value: Tagged, store_buffer: StoreBuffer, elide_barrier: bool
) -> list[tuple[HeapObject, int, Tagged]]:
    """The initializing stores of a nested literal: each object's field 0 holds the next, the last ``last_value``.

    ``elide_barrier``: the stores skip the barrier (optimized code's
    assumption that the folded group is young).  Returns the stores made.
    """
    stores: list[tuple[HeapObject, int, Tagged]] = []
    for position, obj in enumerate(objects):
        value: Tagged = objects[position + 1] if position + 1 < len(objects) else last_value
        write_field(obj, 0, value, None if elide_barrier else store_buffer)
        stores.append((obj, 0, value))
    return stores
