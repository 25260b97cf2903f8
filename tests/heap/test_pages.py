"""Pages: word ownership, object lookup by address, address-ordered object walks."""

from __future__ import annotations

import pytest

from testbed.heap import HeapObject, Kind, Page

pytestmark = pytest.mark.timeout(30)


def put(page: Page, lid: int, offset: int, fields: int) -> HeapObject:
    obj = HeapObject(lid, Kind.PLAIN, [None] * fields, page, offset)
    page.place(obj)
    return obj


def test_new_page_is_empty():
    page = Page("old", 3, 64)

    assert page.name == "old:3"
    assert not page.young
    assert page.words == [None] * 64
    assert list(page.objects()) == []
    assert len(page.slot_set) == 0


def test_place_covers_every_word_of_the_object():
    page = Page("old", 0, 64)
    obj = put(page, 1, 10, 4)  # header + 4 fields: words 10..14

    assert [page.object_at(a) for a in range(9, 16)] == [None, obj, obj, obj, obj, obj, None]


def test_object_at_finds_the_host_of_each_field_slot():
    page = Page("old", 0, 64)
    obj = put(page, 1, 20, 3)

    for index in range(3):
        assert page.object_at(obj.slot_address(index)) is obj


def test_objects_walks_in_address_order_regardless_of_placement_order():
    page = Page("new-to", 0, 64, young=True)
    c = put(page, 3, 40, 2)
    a = put(page, 1, 0, 5)
    b = put(page, 2, 6, 0)

    assert list(page.objects()) == [a, b, c]


def test_objects_skips_gaps_and_reaches_the_last_word():
    page = Page("old", 0, 64)
    a = put(page, 1, 2, 1)
    b = put(page, 2, 30, 3)
    last = put(page, 3, 63, 0)

    assert list(page.objects()) == [a, b, last]


def test_objects_of_a_full_page_of_back_to_back_objects():
    page = Page("old", 0, 64)
    objects = [put(page, lid, 8 * lid, 7) for lid in range(8)]

    assert list(page.objects()) == objects


def test_objects_are_the_heap_allocation_order_for_one_lab(heap, allocator):
    made = [allocator.allocate(Kind.PLAIN, n) for n in (1, 4, 0, 2)]

    page = heap.new_space.to_space.pages[0]
    assert list(page.objects()) == made
    assert list(heap.young_objects()) == made


def test_reset_forgets_objects_and_slots():
    page = Page("new-from", 1, 64, young=True)
    obj = put(page, 1, 4, 2)
    page.slot_set.insert(obj.slot_address(0))

    page.reset()

    assert page.object_at(4) is None
    assert list(page.objects()) == []
    assert len(page.slot_set) == 0
    assert page.young
