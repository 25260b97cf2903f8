"""Materializing captured arrays in two phases, through old-space ByteArray storage.

Mirrors V8's ``TranslatedState`` (src/deoptimizer/translated-state.cc), which
materializes a captured object in two steps "to make the object verifier
happy":

1. ``EnsureObjectAllocatedAt`` / ``AllocateStorageFor``: for each captured
   object, a ``ByteArray`` of the object's size is allocated in old space
   ("It is important to allocate all the objects tenured so that the marker
   does not visit them"), its bytes marking which fields will hold tagged
   values; the children (here the elements' heap numbers) are allocated too,
   so this phase can trigger a GC;
2. ``InitializeObjectAt``: with no allocation (``DisallowGarbageCollection``),
   the ByteArray is overwritten in place: the fields first (the word after
   the map, the ByteArray's length, first of all), the object's map last
   (``set_map(..., kReleaseStore)``).

Between the two a mark-compact may have run and handed the storage's page to
the concurrent sweeper, which reads every live object's size from its
header.  Reading it between the length write and the map write gives a
ByteArray whose length is the array's element count: a size far smaller
than the object, and the sweeper frees the object's tail.  V8's fix for
crbug.com/1228036 ("[deoptimizer] Finish concurrent sweeping before
overwriting ByteArrays", 2021) finishes sweeping first; V8 today calls
``Heap::EnsureSweepingCompletedForObject`` on the storage before the
rewrite (``PrepareObjectForLayoutChange``), as :func:`materialize_arrays`
does through the full collector's ``ensure_swept``.

Fault ``deopt-overwrites-during-sweep`` skips that wait.

Simplified: only arrays (V8's ``FixedArray`` case) go through storage; the
model's other captured objects are allocated young and initialized at once,
as in the story the model follows.  One marker word per field instead of
one byte.  The elements are always heap numbers (``kStoreTagged`` markers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.deopt.translation import Translation
from testbed.heap import Kind, byte_array_length_for

if TYPE_CHECKING:
    from testbed.heap import Handle
    from testbed.runtime import Frame, Mutator

__all__ = ["STORE_TAGGED", "materialize_arrays"]

#: the storage marker of a field that gets a tagged value (V8's ``kStoreTagged``)
STORE_TAGGED = 0


def materialize_arrays(
    mutator: Mutator, frame: Frame, translation: Translation, context: Handle, finish_sweeping: bool = True
) -> None:
    """Materialize ``translation``'s captured arrays; put each in its slot and its context field.

    ``finish_sweeping=False`` is the bug: the storage is overwritten while
    the sweeper may still be sweeping its page.
    """
    if not translation.arrays:
        return
    isolate = mutator.isolate
    allocated = []
    # 1. Storage and children: allocations, so a GC may run here.
    for array in translation.arrays:
        storage = mutator.alloc(1 + array.length, old=True, kind=Kind.BYTE_ARRAY)
        mutator.store(storage, 0, byte_array_length_for(array.length))
        for index in range(array.length):
            mutator.store(storage, 1 + index, STORE_TAGGED)
        unboxed = frame.slots[array.slot]
        base = unboxed if isinstance(unboxed, int) else 0
        elements = []
        for index in range(array.length):
            number = mutator.alloc(1, kind=Kind.HEAP_NUMBER)
            mutator.store(number, 0, base + index)
            elements.append(number)
        allocated.append((array, storage, elements))
    # 2. Overwrite each storage in place: no allocation from here on.
    for array, storage, elements in allocated:
        full = isolate.full_collector
        if finish_sweeping and full is not None:
            full.ensure_swept(storage.get().page, isolate)
        mutator.store(storage, 0, array.length)  # the array's length over the ByteArray's
        for index, element in enumerate(elements):
            mutator.store(storage, 1 + index, element)
        mutator.initialize_map(storage, Kind.FIXED_ARRAY)
        mutator.frame_store(array.slot, storage)
        mutator.store(context, array.context_field, storage)
    isolate.events.record(
        "materialize-arrays",
        f"{len(allocated)} captured array(s): old ByteArray storage allocated, then overwritten in place",
    )
