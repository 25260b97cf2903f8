"""Allocation folding: one bump carves a group; a pretenured group is not folded (nodejs/node#7303)."""

from __future__ import annotations

import itertools

import pytest

from testbed.heap import StoreBuffer
from testbed.heap.folding import allocate_folded, fold, initialize_folded

pytestmark = pytest.mark.timeout(30)

FAULT = frozenset({"barrier-elided-for-pretenured-fold"})


def test_young_groups_fold_and_pretenured_ones_do_not():
    assert fold(old=False) is True
    assert fold(old=True) is False


def test_the_fault_folds_pretenured_groups_too():
    assert fold(old=True, faults=FAULT) is True


@pytest.mark.parametrize("old", [False, True])
def test_a_folded_group_is_contiguous_in_one_lab(allocator, old):
    objects = allocate_folded(allocator, [2, 1, 3], old)
    assert objects is not None
    assert [len(o.fields) for o in objects] == [2, 1, 3]
    assert len({o.page.name for o in objects}) == 1
    assert all(o.page.young is not old for o in objects)
    for first, second in itertools.pairwise(objects):
        assert second.offset == first.offset + first.size
    assert len({o.lid for o in objects}) == 3


def test_a_young_group_fails_when_new_space_is_full(heap, allocator):
    assert allocate_folded(allocator, [heap.new_space.capacity_words()], old=False) is None


def test_initializing_stores_chain_the_group_and_end_in_the_value(heap, allocator, make):
    objects = allocate_folded(allocator, [1, 1], old=False)
    young = make(1)
    buffer = StoreBuffer(8, heap.remembered_set)
    stores = initialize_folded(objects, young, buffer, elide_barrier=True)
    assert [(h.lid, i, v.lid) for h, i, v in stores] == [
        (objects[0].lid, 0, objects[1].lid),
        (objects[1].lid, 0, young.lid),
    ]
    assert buffer.entries == [], "a young group needs no barrier"


def test_an_elided_barrier_on_an_old_group_loses_the_old_to_young_slot(heap, allocator, make):
    objects = allocate_folded(allocator, [1, 1], old=True)
    young = make(1)
    buffer = StoreBuffer(8, heap.remembered_set)
    initialize_folded(objects, young, buffer, elide_barrier=True)
    assert objects[1].fields[0] is young and not objects[1].page.young
    assert buffer.entries == []


def test_with_the_barrier_an_old_group_records_the_slot(heap, allocator, make):
    objects = allocate_folded(allocator, [1, 1], old=True)
    young = make(1)
    buffer = StoreBuffer(8, heap.remembered_set)
    initialize_folded(objects, young, buffer, elide_barrier=False)
    assert buffer.entries == [(objects[1], 0)]
