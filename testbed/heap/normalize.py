"""Fast-to-slow migration: an object's in-object fields stop being tagged slots.

Mirrors V8's ``JSObject::NormalizeProperties`` -> ``MigrateFastToSlow``
(src/objects.cc): the properties are copied into a dictionary, the object
gets a dictionary map, and the words of its in-object properties are no
longer tagged fields.  Because the remembered set stores bare slot
addresses, any slot recorded for those words must be cleared: V8 calls
``Heap::ClearRecordedSlotRange`` over the in-object range there (the fix
for crbug.com/666046; see docs/bugs/no-slot-clear-on-layout-change.md).
Here the clear covers the migrating thread's own store buffer and the
remembered set (under its lock); other threads never hold slots of an
object they did not allocate (docs/design.md, 'Determinism').

The caller has already allocated the dictionary and copied the fields into
it; from here to the map change nothing allocates, so no GC can see the
object half migrated.

Fault ``no-slot-clear-on-layout-change`` skips the clear: the slot stays
recorded, and the next scavenge, which trusts the remembered set as V8's
does, reads the untagged word as a pointer.
"""

from __future__ import annotations

from testbed.heap.layout import DICTIONARY_TAGGED_FIELDS
from testbed.heap.objects import HeapObject, Map
from testbed.heap.remembered_set import RememberedSet
from testbed.heap.store_buffer import StoreBuffer
from testbed.heap.write_barrier import write_field
from testbed.sched import point

__all__ = ["migrate_to_dictionary"]


def migrate_to_dictionary(
    host: HeapObject,
    dictionary: HeapObject,
    store_buffer: StoreBuffer,
    remembered_set: RememberedSet,
    faults: frozenset[str] = frozenset(),
) -> None:
    """Give ``host`` a dictionary map with ``dictionary`` in field 0; clear the untagged words' slots."""
    untagged = range(DICTIONARY_TAGGED_FIELDS, len(host.fields))
    if "no-slot-clear-on-layout-change" not in faults and len(untagged):
        store_buffer.remove_range(host, untagged.start, untagged.stop)
        remembered_set.clear_recorded_slots(host, untagged.start, untagged.stop)
    # V8 stores the new map with a release store after the filler, "to avoid
    # races with the sweeper thread"; here the point lets others run first.
    point("layout-change", host.lid)
    host.map_word = Map.DICTIONARY
    write_field(host, 0, dictionary, store_buffer)
