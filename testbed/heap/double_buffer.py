"""Heap numbers carved out of one ByteArray, then the ByteArray trimmed to its header.

Mirrors the mutable double buffer of V8's JSON parser
(``JsonParser<Char>::BuildJsonObject``, src/json/json-parser.cc, V8 8.3 to
9.2): to build an object whose double fields hold heap numbers without
allocating while the object is half set up, the parser first allocates one
``ByteArray`` big enough for all of them (``NewByteArray(kMutableDoubleSize
* new_mutable_double)``), then, with allocation disallowed, writes a heap
number's map and value at successive addresses of its payload
(``HeapObject::FromAddress(mutable_double_address)``,
``set_map_after_allocation``) and stores each into the object; last,
``mutable_double_buffer->set_length(0)`` shrinks the ByteArray to its
header, so that a heap walk sees the numbers as objects of their own ("Make
all mutable HeapNumbers alive").

The numbers were never allocated: their memory is the buffer's, allocated
before whatever marking ran since.  V8's marking state is per address, and a
marking that ran between the buffer's allocation and the trim marked the
buffer's first word only; a sweeper that reads the trimmed header sees a
live two-word ByteArray followed by unmarked words, and frees them.

Simplified: the model's liveness is a set of logical ids, and objects with
ids from after a marking count as allocated black (live).  So that a carved
number is judged as its memory would be in V8, it takes an id drawn when the
buffer was allocated (:func:`reserve_lids`), as the address it occupies
existed then.  A number takes two words (map, value) where V8 reserves
``kMutableDoubleSize`` bytes a number and writes alignment fillers; the
payload's data words are left as they are (V8 writes the numbers into them;
here each number object holds its value).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.heap.object_size import byte_array_length_for
from testbed.heap.objects import HEADER_WORDS, HeapObject, Kind, Tagged
from testbed.sched import point

if TYPE_CHECKING:
    from testbed.heap.heap import Heap

__all__ = ["HEAP_NUMBER_WORDS", "buffer_fields", "buffer_length", "carve_heap_number", "reserve_lids", "trim_to_header"]

#: words of one heap number: its map word and its value
HEAP_NUMBER_WORDS = HEADER_WORDS + 1


def buffer_fields(count: int) -> int:
    """Fields of a ByteArray with room for ``count`` heap numbers: the length word, then the payload."""
    return 1 + count * HEAP_NUMBER_WORDS


def buffer_length(count: int) -> int:
    """The length word of that ByteArray (a byte count)."""
    return byte_array_length_for(count * HEAP_NUMBER_WORDS)


def reserve_lids(heap: Heap, count: int) -> list[int]:
    """Logical ids for the numbers to be carved from a buffer just allocated: drawn now, with its memory."""
    return [heap.next_lid() for _ in range(count)]


def carve_heap_number(buffer: HeapObject, index: int, lid: int, value: Tagged) -> HeapObject:
    """Heap number ``index`` of ``buffer``'s payload (``set_map_after_allocation`` at its address).

    The page's words still say the buffer covers it: until the trim, a heap
    walk sees one ByteArray, as V8's does.
    """
    offset = buffer.offset + HEADER_WORDS + 1 + index * HEAP_NUMBER_WORDS
    return HeapObject(lid, Kind.HEAP_NUMBER, [value], buffer.page, offset)


def trim_to_header(buffer: HeapObject, carved: list[HeapObject]) -> None:
    """``set_length(0)``: the buffer keeps its header; the carved numbers cover the payload from now on.

    The words change hands before the length word changes, so a walker
    that reads the short length finds the numbers there, not the buffer.
    """
    point("byte-array-trim", buffer.lid)
    words = buffer.page.words
    for number in carved:
        for address in range(number.offset, number.offset + number.size):
            words[address] = number
    buffer.fields = [0]
