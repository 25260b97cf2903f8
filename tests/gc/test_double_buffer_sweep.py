"""The JSON parser's heap-number buffer against the sweeper (v8:11837, fault ``json-buffer-trimmed-unswept``).

Numbers carved from a ByteArray marked as one object are freed by a sweep
that runs after the ByteArray is trimmed to its header, and kept by one
that runs before: what V8 81181a8ad80a's ``EnsureSweepingCompletedForObject``
orders.  The freed words reach the free list and the next old allocation
reuses them.
"""

from __future__ import annotations

import pytest

from testbed.gc.sweeper import Sweeper
from testbed.heap import HEADER_WORDS, Heap, Kind, Map, ThreadAllocator, size_from_map
from testbed.heap.double_buffer import (
    HEAP_NUMBER_WORDS,
    buffer_fields,
    buffer_length,
    carve_heap_number,
    reserve_lids,
    trim_to_header,
)
from testbed.sched import Condition, Lock

pytestmark = pytest.mark.timeout(60)


def _buffer_and_object(count: int) -> tuple[Heap, ThreadAllocator, object, object, list[int], int]:
    """A buffer for ``count`` numbers, their reserved ids, then a marking (its watermark), then the object."""
    heap = Heap(new_space_pages=1, page_words=128, lab_words=16)
    allocator = ThreadAllocator(heap)
    buffer = allocator.allocate(Kind.BYTE_ARRAY, buffer_fields(count), old=True)
    assert buffer is not None
    buffer.fields[0] = buffer_length(count)
    lids = reserve_lids(heap, count)
    watermark = heap.next_lid()  # the marking ran here: everything older is judged by ``marked``
    host = allocator.allocate(Kind.PLAIN, count, old=True)
    return heap, allocator, buffer, host, lids, watermark


def _carve(buffer, host, lids: list[int]) -> list:
    numbers = [carve_heap_number(buffer, index, lid, 100 + index) for index, lid in enumerate(lids)]
    for index, number in enumerate(numbers):
        host.fields[index] = number
    return numbers


def _sweep(heap: Heap, marked: set[int], watermark: int) -> None:
    sweeper = Sweeper(Condition(Lock("test-sweeper"), "test-sweeper"))
    sweeper.prepare(heap)
    while sweeper._unswept:
        page, extent = sweeper._unswept.pop()
        sweeper._sweep_page(heap, page, extent, marked, watermark)


def test_carving_leaves_one_byte_array_until_the_trim_and_separate_numbers_after() -> None:
    _heap, _allocator, buffer, host, lids, _watermark = _buffer_and_object(3)
    numbers = _carve(buffer, host, lids)
    words = buffer.page.words
    assert all(words[n.offset] is buffer for n in numbers), "before the trim a walk sees the buffer"
    assert size_from_map(buffer) == buffer.size == HEADER_WORDS + 1 + 3 * HEAP_NUMBER_WORDS
    trim_to_header(buffer, numbers)
    assert buffer.fields == [0] and size_from_map(buffer) == buffer.size == 2
    for number in numbers:
        assert [words[a] for a in range(number.offset, number.offset + number.size)] == [number, number]
    assert numbers[0].offset == buffer.offset + buffer.size, "the first number follows the trimmed header"


def test_a_sweep_after_the_trim_frees_the_numbers_the_object_holds_and_reuses_their_words() -> None:
    heap, allocator, buffer, host, lids, watermark = _buffer_and_object(3)
    numbers = _carve(buffer, host, lids)
    trim_to_header(buffer, numbers)  # the fault: trimmed while the page is still to sweep
    _sweep(heap, marked={buffer.lid, host.lid}, watermark=watermark)
    assert all(n.map_word is Map.FREED for n in numbers), "unmarked words after a short live header"
    assert buffer.map_word is Map.BYTE_ARRAY and host.map_word is Map.PLAIN
    assert all(host.fields[i] is n for i, n in enumerate(numbers)), "the object still points at them"
    allocator.give_up_labs()
    reused = allocator.allocate(Kind.PLAIN, 1, old=True)
    assert reused is not None and reused.page is buffer.page
    assert reused.offset == numbers[0].offset, "the free list hands the first number's words out again"


def test_a_sweep_before_the_trim_keeps_the_numbers_and_the_next_marking_finds_them() -> None:
    heap, _allocator, buffer, host, lids, watermark = _buffer_and_object(3)
    numbers = _carve(buffer, host, lids)
    _sweep(heap, marked={buffer.lid, host.lid}, watermark=watermark)  # the fix: the page is swept first
    trim_to_header(buffer, numbers)
    assert all(n.map_word is Map.HEAP_NUMBER and n.fields == [100 + i] for i, n in enumerate(numbers))
    # A later marking reaches them through the object, so its sweep keeps them too.
    _sweep(heap, marked={buffer.lid, host.lid, *lids}, watermark=heap.next_lid())
    assert all(n.map_word is Map.HEAP_NUMBER for n in numbers)
