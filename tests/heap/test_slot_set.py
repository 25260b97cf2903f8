"""Slot sets: lazily allocated buckets of 32-bit cells, one bit per slot address."""

from __future__ import annotations

import pytest

from testbed.heap import SlotSet
from testbed.heap.slot_set import BUCKET_SLOTS, CELL_BITS, CELLS_PER_BUCKET

pytestmark = pytest.mark.timeout(30)

#: addresses on both sides of every cell and bucket boundary of a 4-bucket set
BOUNDARIES = [0, 1, 30, 31, 32, 33, 63, 64, 1022, 1023, 1024, 1025, 1055, 1056, 2047, 2048, 3071, 3072, 4094, 4095]


def test_geometry_is_32_bit_cells_and_1024_slot_buckets():
    assert CELL_BITS == 32
    assert CELLS_PER_BUCKET == 32
    assert BUCKET_SLOTS == 1024


@pytest.mark.parametrize(("capacity", "buckets"), [(1, 1), (512, 1), (1024, 1), (1025, 2), (4096, 4)])
def test_bucket_count_covers_capacity(capacity, buckets):
    assert len(SlotSet(capacity).buckets) == buckets


def test_new_slot_set_is_empty_with_no_buckets():
    slots = SlotSet(4096)

    assert slots.buckets == [None] * 4
    assert list(slots.addresses()) == []
    assert len(slots) == 0
    assert not slots.contains(0)
    assert not slots.contains(4095)


@pytest.mark.parametrize("address", BOUNDARIES)
def test_insert_then_contains_only_that_address(address):
    slots = SlotSet(4096)

    slots.insert(address)

    assert slots.contains(address)
    assert list(slots.addresses()) == [address]
    for neighbour in (address - 1, address + 1):
        if 0 <= neighbour < 4096:
            assert not slots.contains(neighbour)


@pytest.mark.parametrize("address", BOUNDARIES)
def test_insert_sets_the_bit_in_the_right_bucket_and_cell(address):
    slots = SlotSet(4096)

    slots.insert(address)

    bucket_index, within = divmod(address, BUCKET_SLOTS)
    cell_index, bit = divmod(within, CELL_BITS)
    for b, bucket in enumerate(slots.buckets):
        if b != bucket_index:
            assert bucket is None
    bucket = slots.buckets[bucket_index]
    assert bucket is not None
    assert len(bucket) == CELLS_PER_BUCKET
    assert bucket[cell_index] == 1 << bit
    assert sum(1 for cell in bucket if cell) == 1


def test_addresses_are_ascending_whatever_the_insertion_order():
    slots = SlotSet(4096)
    order = [4095, 0, 1024, 31, 2048, 32, 1023, 1, 3000, 63]

    for address in order:
        slots.insert(address)

    assert list(slots.addresses()) == sorted(order)
    assert len(slots) == len(order)


def test_every_bit_of_a_cell_can_be_set():
    slots = SlotSet(1024)

    for address in range(32, 64):
        slots.insert(address)

    assert slots.buckets[0] is not None
    assert slots.buckets[0][1] == 0xFFFFFFFF
    assert list(slots.addresses()) == list(range(32, 64))


def test_insert_is_idempotent():
    slots = SlotSet(1024)

    slots.insert(7)
    slots.insert(7)

    assert list(slots.addresses()) == [7]


def test_remove_clears_only_that_bit():
    slots = SlotSet(4096)
    for address in (31, 32, 1023, 1024):
        slots.insert(address)

    slots.remove(32)
    slots.remove(1023)

    assert list(slots.addresses()) == [31, 1024]
    assert not slots.contains(32)
    assert not slots.contains(1023)


def test_remove_of_absent_address_is_a_no_op():
    slots = SlotSet(4096)
    slots.insert(5)

    slots.remove(6)
    slots.remove(2048)  # bucket never allocated

    assert list(slots.addresses()) == [5]
    assert slots.buckets[2] is None


def test_buckets_are_allocated_lazily_per_bucket():
    slots = SlotSet(4096)

    slots.insert(1024)
    assert [b is not None for b in slots.buckets] == [False, True, False, False]

    slots.insert(1500)
    slots.insert(4095)
    assert [b is not None for b in slots.buckets] == [False, True, False, True]


def test_release_empty_buckets_drops_only_buckets_with_no_bit_set():
    slots = SlotSet(4096)
    for address in (0, 1024, 1025, 3072):
        slots.insert(address)
    slots.remove(0)
    slots.remove(1024)
    slots.remove(3072)

    # remove() alone keeps the (now empty) buckets allocated
    assert [b is not None for b in slots.buckets] == [True, True, False, True]

    slots.release_empty_buckets()

    assert [b is not None for b in slots.buckets] == [False, True, False, False]
    assert list(slots.addresses()) == [1025]


def test_released_bucket_is_reallocated_on_next_insert():
    slots = SlotSet(2048)
    slots.insert(1030)
    slots.remove(1030)
    slots.release_empty_buckets()
    assert slots.buckets[1] is None

    slots.insert(1031)

    assert slots.buckets[1] is not None
    assert list(slots.addresses()) == [1031]
