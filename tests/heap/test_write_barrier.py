"""The generational write barrier records exactly the old-to-young stores."""

from __future__ import annotations

import pytest

from testbed.heap import Heap, StoreBuffer, is_old_to_young, write_field

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def store_buffer(heap: Heap) -> StoreBuffer:
    return StoreBuffer(16, heap.remembered_set)


def test_barrier_records_old_host_young_value_only(make, heap, store_buffer):
    host = make(3, old=True)
    value = make(1, old=False)

    write_field(host, 1, value, store_buffer)

    assert host.fields[1] is value
    assert store_buffer.entries == [(host, 1)]
    # Recording goes to the buffer; the remembered set only sees it on flush.
    assert not heap.remembered_set.contains(host, 1)


@pytest.mark.parametrize(
    ("host_old", "value_old"),
    [(False, False), (True, True), (False, True)],
    ids=["young-to-young", "old-to-old", "young-to-old"],
)
def test_barrier_ignores_stores_that_are_not_old_to_young(make, store_buffer, host_old, value_old):
    host = make(2, old=host_old)
    value = make(1, old=value_old)

    write_field(host, 0, value, store_buffer)

    assert host.fields[0] is value
    assert store_buffer.entries == []


@pytest.mark.parametrize("value", [0, 42, -7, None], ids=["smi-0", "smi-42", "smi-neg", "empty"])
def test_barrier_ignores_smi_and_none_values_in_old_host(make, store_buffer, value):
    host = make(2, old=True)

    write_field(host, 0, value, store_buffer)

    assert host.fields[0] == value
    assert store_buffer.entries == []


def test_barrier_records_every_old_to_young_store_in_order(make, store_buffer):
    host = make(4, old=True)
    young = [make(1) for _ in range(3)]

    write_field(host, 2, young[0], store_buffer)
    write_field(host, 0, young[1], store_buffer)
    write_field(host, 3, 5, store_buffer)
    write_field(host, 2, young[2], store_buffer)

    assert store_buffer.entries == [(host, 2), (host, 0), (host, 2)]


def test_barrier_overwriting_young_with_smi_keeps_the_earlier_record(make, store_buffer):
    # The barrier never removes entries; filtering stale slots is the scavenger's job.
    host = make(1, old=True)
    write_field(host, 0, make(1), store_buffer)
    write_field(host, 0, 3, store_buffer)

    assert host.fields[0] == 3
    assert store_buffer.entries == [(host, 0)]


def test_store_without_barrier_records_nothing(make, heap):
    host = make(2, old=True)
    value = make(1)

    write_field(host, 0, value, None)

    assert host.fields[0] is value
    assert not heap.remembered_set.contains(host, 0)
    assert list(heap.old_space.pages[0].slot_set.addresses()) == []


def test_is_old_to_young_classifies_host_and_value_pairs(make):
    old, young = make(1, old=True), make(1)

    assert is_old_to_young(old, young)
    assert not is_old_to_young(young, young)
    assert not is_old_to_young(old, old)
    assert not is_old_to_young(young, old)
    assert not is_old_to_young(old, 1)
    assert not is_old_to_young(old, None)
