"""Fixtures for the heap-layer unit tests: a small heap and one thread's allocator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from testbed.heap import Heap, HeapObject, Kind, ThreadAllocator

#: makes an object with ``fields`` empty fields, in old space when ``old``
MakeObject = Callable[..., HeapObject]


@pytest.fixture
def heap() -> Heap:
    return Heap(new_space_pages=2, page_words=128, lab_words=16)


@pytest.fixture
def allocator(heap: Heap) -> ThreadAllocator:
    return ThreadAllocator(heap)


@pytest.fixture
def make(allocator: ThreadAllocator) -> MakeObject:
    def make_object(fields: int = 2, old: bool = False, kind: Kind = Kind.PLAIN) -> HeapObject:
        obj = allocator.allocate(kind, fields, old=old)
        assert obj is not None, "the test heap ran out of new space"
        return obj

    return make_object
