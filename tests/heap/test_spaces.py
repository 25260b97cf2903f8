"""Spaces: LAB carving, semispace exhaustion and flip, the age mark, old-space growth."""

from __future__ import annotations

import pytest

from testbed.heap import (
    NEW_FROM,
    NEW_TO,
    OLD,
    Heap,
    Kind,
    LinearAllocationBuffer,
    NewSpace,
    OldSpace,
    ThreadAllocator,
)

pytestmark = pytest.mark.timeout(30)


def lab_span(lab: LinearAllocationBuffer | None) -> tuple[str, int, int]:
    assert lab is not None
    return (lab.page.name, lab.top, lab.limit)


# -- linear allocation buffers ---------------------------------------------------------


def test_lab_bump_returns_consecutive_offsets_until_full():
    space = NewSpace(1, 64)
    lab = space.allocate_lab(10, 1)
    assert lab is not None

    assert lab.bump(4) == 0
    assert lab.bump(6) == 4
    assert lab.bump(1) is None
    assert lab.top == 10


def test_lab_bump_that_does_not_fit_leaves_top_unchanged():
    space = NewSpace(1, 64)
    lab = space.allocate_lab(8, 1)
    assert lab is not None
    lab.bump(5)

    assert lab.bump(4) is None
    assert lab.top == 5
    assert lab.bump(3) == 5


# -- carving LABs from pages -------------------------------------------------------------


def test_labs_are_carved_consecutively_from_the_first_page():
    space = NewSpace(2, 64)

    spans = [lab_span(space.allocate_lab(16, 8)) for _ in range(5)]

    assert spans == [
        (f"{NEW_TO}:0", 0, 16),
        (f"{NEW_TO}:0", 16, 32),
        (f"{NEW_TO}:0", 32, 48),
        (f"{NEW_TO}:0", 48, 64),
        (f"{NEW_TO}:1", 0, 16),
    ]
    assert space.to_space.top == (1, 16)
    assert space.used_words() == 80


def test_lab_is_shrunk_to_the_free_rest_of_a_page_when_at_least_minimum():
    space = NewSpace(2, 64)
    space.allocate_lab(50, 50)

    assert lab_span(space.allocate_lab(32, 8)) == (f"{NEW_TO}:0", 50, 64)


def test_lab_skips_to_next_page_when_rest_is_below_minimum():
    space = NewSpace(2, 64)
    space.allocate_lab(60, 60)

    assert lab_span(space.allocate_lab(32, 8)) == (f"{NEW_TO}:1", 0, 32)
    # the 4-word tail of page 0 is abandoned, not handed out later
    assert lab_span(space.allocate_lab(4, 4)) == (f"{NEW_TO}:1", 32, 36)


def test_new_space_exhaustion_returns_none():
    space = NewSpace(2, 64)
    for _ in range(4):
        assert space.allocate_lab(32, 32) is not None

    assert space.allocate_lab(32, 8) is None
    assert space.allocate_lab(1, 1) is None
    assert space.used_words() == space.capacity_words() == 128


def test_young_allocation_returns_none_when_new_space_is_full():
    heap = Heap(new_space_pages=1, page_words=64, lab_words=16)
    allocator = ThreadAllocator(heap)

    objects = [allocator.allocate(Kind.PLAIN, 7) for _ in range(8)]  # 8 words each

    assert all(obj is not None for obj in objects)
    assert allocator.allocate(Kind.PLAIN, 7) is None
    assert allocator.allocate(Kind.PLAIN, 0) is None
    # old space is unaffected
    assert allocator.allocate(Kind.PLAIN, 7, old=True) is not None


def test_allocator_places_objects_back_to_back_in_its_lab(heap, allocator):
    a = allocator.allocate(Kind.PLAIN, 2)
    b = allocator.allocate(Kind.CONTEXT, 4)
    assert a is not None and b is not None

    assert (a.page, a.offset, a.size) == (heap.new_space.to_space.pages[0], 0, 3)
    assert (b.page, b.offset, b.size) == (a.page, 3, 5)
    assert allocator.young_lab is not None
    assert (allocator.young_lab.top, allocator.young_lab.limit) == (8, 16)


def test_allocator_takes_a_new_lab_when_object_does_not_fit(heap, allocator):
    first = allocator.allocate(Kind.PLAIN, 11)  # 12 of 16 words
    second = allocator.allocate(Kind.PLAIN, 7)  # 8 words: needs a new LAB
    assert first is not None and second is not None

    assert second.offset == 16
    assert heap.new_space.to_space.top == (0, 32)


def test_allocator_gets_a_lab_as_large_as_an_object_bigger_than_lab_words(heap, allocator):
    big = allocator.allocate(Kind.PLAIN, 40)
    assert big is not None

    assert big.size == 41
    assert allocator.young_lab is not None
    assert (allocator.young_lab.top, allocator.young_lab.limit) == (41, 41)


def test_objects_get_distinct_increasing_logical_ids(allocator):
    objects = [allocator.allocate(Kind.PLAIN, 1, old=i % 2 == 0) for i in range(6)]

    assert [obj.lid for obj in objects if obj is not None] == [1, 2, 3, 4, 5, 6]


def test_give_up_labs_makes_next_allocation_carve_a_new_lab(heap, allocator):
    allocator.allocate(Kind.PLAIN, 1)
    allocator.allocate(Kind.PLAIN, 1, old=True)

    allocator.give_up_labs()

    assert allocator.young_lab is None and allocator.old_lab is None
    obj = allocator.allocate(Kind.PLAIN, 1)
    assert obj is not None and obj.offset == 16


@pytest.mark.parametrize(
    ("pages", "page_words", "lab_words"),
    [(0, 512, 32), (4, 63, 32), (4, 512, 7)],
    ids=["no-new-space-page", "page-too-small", "lab-too-small"],
)
def test_heap_rejects_degenerate_geometry(pages, page_words, lab_words):
    with pytest.raises(ValueError):
        Heap(new_space_pages=pages, page_words=page_words, lab_words=lab_words)


# -- semispace flip ----------------------------------------------------------------------


def test_flip_swaps_semispaces_and_resets_to_space():
    heap = Heap(new_space_pages=2, page_words=64, lab_words=16)
    allocator = ThreadAllocator(heap)
    survivors = [allocator.allocate(Kind.PLAIN, 3) for _ in range(3)]
    new_space = heap.new_space
    old_to, old_from = new_space.to_space, new_space.from_space
    old_from.pages[0].slot_set.insert(3)  # leftovers of an earlier cycle

    new_space.flip()

    assert new_space.to_space is old_from
    assert new_space.from_space is old_to
    assert new_space.to_space.name == NEW_TO
    assert new_space.from_space.name == NEW_FROM
    assert [p.name for p in new_space.to_space.pages] == [f"{NEW_TO}:0", f"{NEW_TO}:1"]
    assert [p.owner for p in new_space.from_space.pages] == [NEW_FROM, NEW_FROM]
    # the new to-space is empty and allocation restarts at its first word
    assert new_space.to_space.top == (0, 0)
    assert new_space.used_words() == 0
    assert list(heap.young_objects()) == []
    assert all(page.words == [None] * 64 for page in new_space.to_space.pages)
    assert all(len(page.slot_set) == 0 for page in new_space.to_space.pages)
    # from-space still holds the objects, which now report a from-space page
    assert list(new_space.from_space.pages[0].objects()) == survivors
    assert all(obj is not None and obj.page.owner == NEW_FROM for obj in survivors)
    assert all(obj is not None and obj.page.young for obj in survivors)
    assert lab_span(new_space.allocate_lab(16, 8)) == (f"{NEW_TO}:0", 0, 16)


def test_two_flips_bring_back_the_original_to_space_empty():
    new_space = NewSpace(1, 64)
    original = new_space.to_space
    new_space.allocate_lab(32, 32)

    new_space.flip()
    new_space.flip()

    assert new_space.to_space is original
    assert original.top == (0, 0)
    assert original.name == NEW_TO


# -- age mark ----------------------------------------------------------------------------


def test_age_mark_splits_objects_allocated_before_and_after_it():
    heap = Heap(new_space_pages=2, page_words=64, lab_words=16)
    new_space = heap.new_space
    allocator = ThreadAllocator(heap)
    before = [allocator.allocate(Kind.PLAIN, 9) for _ in range(5)]  # a LAB each; crosses into page 1

    allocator.give_up_labs()  # as every thread does at a GC
    new_space.set_age_mark()
    after = [ThreadAllocator(heap).allocate(Kind.PLAIN, 2), allocator.allocate(Kind.PLAIN, 2)]

    assert {obj.page.index for obj in before if obj is not None} == {0, 1}
    assert all(obj is not None and new_space.below_age_mark(obj.page, obj.offset) for obj in before)
    assert all(obj is not None and not new_space.below_age_mark(obj.page, obj.offset) for obj in after)


def test_age_mark_starts_at_zero_so_nothing_is_below_it(heap, allocator):
    obj = allocator.allocate(Kind.PLAIN, 1)
    assert obj is not None

    assert heap.new_space.age_mark == (0, 0)
    assert not heap.new_space.below_age_mark(obj.page, obj.offset)


def test_age_mark_survives_flip_and_classifies_from_space_objects():
    heap = Heap(new_space_pages=2, page_words=64, lab_words=16)
    new_space = heap.new_space
    allocator = ThreadAllocator(heap)
    survived = allocator.allocate(Kind.PLAIN, 3)
    allocator.give_up_labs()
    new_space.set_age_mark()
    fresh = allocator.allocate(Kind.PLAIN, 3)
    allocator.give_up_labs()

    new_space.flip()

    assert survived is not None and fresh is not None
    assert survived.page.owner == fresh.page.owner == NEW_FROM
    assert new_space.below_age_mark(survived.page, survived.offset)
    assert not new_space.below_age_mark(fresh.page, fresh.offset)


def test_age_mark_at_exhausted_space_covers_every_object():
    heap = Heap(new_space_pages=1, page_words=64, lab_words=16)
    allocator = ThreadAllocator(heap)
    objects = []
    while (obj := allocator.allocate(Kind.PLAIN, 3)) is not None:
        objects.append(obj)

    heap.new_space.set_age_mark()

    assert len(objects) == 16
    assert all(heap.new_space.below_age_mark(o.page, o.offset) for o in objects)


# -- old space ---------------------------------------------------------------------------


def test_old_space_starts_with_no_pages_and_grows_on_demand():
    space = OldSpace(64)
    assert space.pages == []

    spans = [lab_span(space.allocate_lab(32, 32)) for _ in range(5)]

    assert spans == [
        (f"{OLD}:0", 0, 32),
        (f"{OLD}:0", 32, 64),
        (f"{OLD}:1", 0, 32),
        (f"{OLD}:1", 32, 64),
        (f"{OLD}:2", 0, 32),
    ]
    assert [p.index for p in space.pages] == [0, 1, 2]
    assert all(not p.young and p.owner == OLD for p in space.pages)


def test_old_space_adds_a_page_when_rest_is_below_minimum():
    space = OldSpace(64)
    space.allocate_lab(40, 40)

    assert lab_span(space.allocate_lab(32, 30)) == (f"{OLD}:1", 0, 32)
    assert len(space.pages) == 2


def test_old_allocation_never_fails(heap, allocator):
    objects = [allocator.allocate(Kind.PLAIN, 30, old=True) for _ in range(20)]

    assert all(obj is not None and not obj.page.young for obj in objects)
    assert len(heap.old_space.pages) >= 20 * 31 // 128
    assert list(heap.old_objects()) == objects
