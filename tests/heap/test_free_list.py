"""Old space's free list: first fit, split, reset; allocation reuses it; reuse overwrites the old occupant."""

from __future__ import annotations

import pytest

import testbed
from testbed.heap import Heap, HeapObject, Kind, Map, OldSpace
from testbed.heap.free_list import FreeList

pytestmark = pytest.mark.timeout(30)


def test_take_is_first_fit_in_address_order_and_keeps_the_rest_listed():
    free = FreeList()
    free.add(1, 10, 20)
    free.add(0, 40, 43)
    free.add(0, 0, 8)
    assert free.take(32, 9) == (1, 10, 20)  # (0, 0, 8) and (0, 40, 43) are too small
    assert free.take(5, 2) == (0, 0, 5)
    assert free.take(32, 3) == (0, 5, 8)
    assert free.free_words() == 3 and len(free) == 1 and free.handed_out == 18
    free.reset()
    assert free.take(1, 1) is None


def test_old_space_hands_out_listed_memory_before_it_bumps():
    space = OldSpace(64)
    first = space.allocate_lab(32, 1)
    assert (first.top, first.limit) == (0, 32)
    space.add_free(space.pages[0], [(4, 12)])
    reused = space.allocate_lab(32, 4)
    assert (reused.page, reused.top, reused.limit) == (space.pages[0], 4, 12)
    bumped = space.allocate_lab(32, 4)
    assert (bumped.top, bumped.limit) == (32, 64)
    space.add_free(space.pages[0], [(4, 12)])
    space.reset_free_list()
    assert space.allocate_lab(8, 8).page.index == 1  # nothing listed: the space grows


def test_reusing_the_words_of_a_reachable_object_poisons_it():
    heap = Heap(page_words=64)
    lab = heap.old_space.allocate_lab(16, 16)
    alive = heap.place(lab, Kind.PLAIN, [None] * 5, heap.next_lid())
    assert alive is not None
    heap.old_space.add_free(alive.page, [(alive.offset, alive.offset + 3)])  # as a wrong sweep would
    again = heap.old_space.allocate_lab(3, 3)
    newcomer = heap.place(again, Kind.PLAIN, [7, 8], heap.next_lid())
    assert isinstance(newcomer, HeapObject)
    assert alive.map_word is Map.FREED, "a stale reference now reads poison"
    page = alive.page
    assert page.words[0:3] == [newcomer] * 3
    assert page.words[3:6] == [None] * 3, "the rest of the old object is free memory, in no object"


def test_the_correct_model_reuses_swept_memory():
    config = testbed.scenario_config("sweeper-races", seed=1, strategy="random", ops=60)
    result = testbed.run(config)
    assert result.ok, result.violations
    assert result.stats["mark_compacts"] > 0
    assert result.stats["old_words_reused"] > 0, "promotion or pretenuring took swept memory"
