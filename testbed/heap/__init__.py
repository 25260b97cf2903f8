"""Heap layer: objects, pages, spaces, handles, the write barrier, store
buffers and the remembered set.

Everything here is data plus the few operations V8 performs on it without a
collector: allocation, the write barrier, buffering and remembering slots.
The collectors live in :mod:`testbed.gc`; the threads in :mod:`testbed.runtime`.
"""

from testbed.heap.code import Code, WeakCodeList
from testbed.heap.handles import Handle, HandleScope, StaleHandleError
from testbed.heap.heap import Heap, ThreadAllocator
from testbed.heap.lab import LinearAllocationBuffer
from testbed.heap.object_size import TAGGED_SIZE, byte_array_length_for, size_from_map
from testbed.heap.objects import HEADER_WORDS, ZAP, HeapObject, Kind, Map, Tagged, poison
from testbed.heap.pages import Page
from testbed.heap.remembered_set import RememberedSet
from testbed.heap.slot_set import CELL_BITS, SlotSet
from testbed.heap.spaces import CODE, NEW_FROM, NEW_TO, OLD, NewSpace, OldSpace, SemiSpace
from testbed.heap.store_buffer import StoreBuffer
from testbed.heap.write_barrier import is_old_to_young, write_field

__all__ = [
    "CELL_BITS",
    "CODE",
    "Code",
    "WeakCodeList",
    "HEADER_WORDS",
    "NEW_FROM",
    "NEW_TO",
    "OLD",
    "Handle",
    "HandleScope",
    "Heap",
    "HeapObject",
    "Kind",
    "LinearAllocationBuffer",
    "Map",
    "NewSpace",
    "OldSpace",
    "Page",
    "RememberedSet",
    "SemiSpace",
    "SlotSet",
    "StaleHandleError",
    "StoreBuffer",
    "TAGGED_SIZE",
    "Tagged",
    "ZAP",
    "ThreadAllocator",
    "byte_array_length_for",
    "is_old_to_young",
    "poison",
    "size_from_map",
    "write_field",
]
