"""Store buffers: bounded per-thread queues that overflow into the remembered set."""

from __future__ import annotations

import pytest

from testbed.heap import HeapObject, RememberedSet, StoreBuffer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def host(make) -> HeapObject:
    return make(8, old=True)


def test_append_up_to_capacity_does_not_flush(heap, host):
    buffer = StoreBuffer(3, heap.remembered_set)

    for index in range(3):
        buffer.append(host, index)

    assert buffer.entries == [(host, 0), (host, 1), (host, 2)]
    assert len(buffer) == 3
    assert (buffer.flushes, buffer.overflows) == (0, 0)
    assert not any(heap.remembered_set.contains(host, i) for i in range(3))
    assert heap.remembered_set.inserts == 0


def test_append_to_full_buffer_flushes_everything_first(heap, host):
    remset = heap.remembered_set
    buffer = StoreBuffer(3, remset)
    for index in range(3):
        buffer.append(host, index)

    buffer.append(host, 3)

    assert all(remset.contains(host, i) for i in range(3))
    assert not remset.contains(host, 3)
    assert buffer.entries == [(host, 3)]
    assert (buffer.flushes, buffer.overflows) == (1, 1)
    assert remset.inserts == 3


def test_capacity_one_buffer_flushes_on_every_second_append(heap, host):
    remset = heap.remembered_set
    buffer = StoreBuffer(1, remset)

    for index in range(4):
        buffer.append(host, index)

    assert buffer.entries == [(host, 3)]
    assert (buffer.flushes, buffer.overflows) == (3, 3)
    assert [remset.contains(host, i) for i in range(4)] == [True, True, True, False]


def test_flush_empties_buffer_into_remembered_set(heap, host):
    remset = heap.remembered_set
    buffer = StoreBuffer(4, remset)
    buffer.append(host, 5)
    buffer.append(host, 1)

    buffer.flush()

    assert buffer.entries == []
    assert len(buffer) == 0
    assert remset.contains(host, 5)
    assert remset.contains(host, 1)
    assert (buffer.flushes, buffer.overflows) == (1, 0)


def test_flush_of_empty_buffer_is_not_counted(heap):
    buffer = StoreBuffer(4, heap.remembered_set)

    buffer.flush()

    assert buffer.flushes == 0
    assert heap.remembered_set.inserts == 0


def test_flush_into_moves_entries_to_the_given_remembered_set(heap, host):
    other = RememberedSet()
    buffer = StoreBuffer(4, heap.remembered_set)
    buffer.append(host, 2)

    buffer.flush_into(other)

    assert buffer.entries == []
    assert other.inserts == 1
    assert heap.remembered_set.inserts == 0
    # Both sets share the host page's slot set: the slot is now remembered.
    assert heap.remembered_set.contains(host, 2)


def test_overflow_drop_fault_forgets_the_buffered_entries(heap, host):
    remset = heap.remembered_set
    buffer = StoreBuffer(3, remset, faults=frozenset({"store-buffer-overflow-drop"}))
    for index in range(3):
        buffer.append(host, index)

    buffer.append(host, 3)

    assert not any(remset.contains(host, i) for i in range(4))
    assert remset.inserts == 0
    assert buffer.entries == [(host, 3)]
    assert (buffer.flushes, buffer.overflows) == (0, 1)


def test_overflow_drop_fault_still_flushes_on_explicit_flush(heap, host):
    remset = heap.remembered_set
    buffer = StoreBuffer(2, remset, faults=frozenset({"store-buffer-overflow-drop"}))
    buffer.append(host, 0)

    buffer.flush()

    assert remset.contains(host, 0)
    assert buffer.flushes == 1


def test_unrelated_fault_does_not_drop_on_overflow(heap, host):
    remset = heap.remembered_set
    buffer = StoreBuffer(1, remset, faults=frozenset({"skip-flush"}))
    buffer.append(host, 0)
    buffer.append(host, 1)

    assert remset.contains(host, 0)


@pytest.mark.parametrize("capacity", [0, -1])
def test_capacity_below_one_raises_value_error(heap, capacity):
    with pytest.raises(ValueError, match="capacity"):
        StoreBuffer(capacity, heap.remembered_set)
