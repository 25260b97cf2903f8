"""Layout changes: a fast-to-slow migration clears the slots of the words that stop being tagged."""

from __future__ import annotations

import pytest

from testbed.check import raw
from testbed.heap import HeapObject, Map, StoreBuffer
from testbed.heap.layout import DICTIONARY_TAGGED_FIELDS, property_holder, tagged_count, tagged_fields
from testbed.heap.normalize import migrate_to_dictionary

pytestmark = pytest.mark.timeout(30)


def _recorded(heap, host: HeapObject, buffer: StoreBuffer) -> list[int]:
    """Fields of ``host`` recorded in the remembered set or in ``buffer``."""
    buffered = {i for h, i in buffer.entries if h is host}
    return [i for i in range(len(host.fields)) if heap.remembered_set.contains(host, i) or i in buffered]


@pytest.fixture
def slow_candidate(heap, make):
    """An old host with a young value in each of its 4 fields, half flushed, half still buffered."""
    host = make(4, old=True)
    buffer = StoreBuffer(8, heap.remembered_set)
    for index in range(4):
        host.fields[index] = make(1)
        buffer.append(host, index)
        if index == 1:
            buffer.flush()
    return host, buffer


def test_a_plain_object_has_every_field_tagged(make):
    obj = make(3, old=True)
    assert tagged_count(obj) == 3
    assert list(tagged_fields(obj)) == [0, 1, 2]
    assert property_holder(obj) is obj


def test_migration_clears_the_untagged_words_slots_in_the_remembered_set_and_the_store_buffer(
    heap, make, slow_candidate
):
    host, buffer = slow_candidate
    dictionary = make(4)
    assert _recorded(heap, host, buffer) == [0, 1, 2, 3]

    migrate_to_dictionary(host, dictionary, buffer, heap.remembered_set)

    assert host.map_word is Map.DICTIONARY
    assert host.fields[0] is dictionary
    assert tagged_count(host) == DICTIONARY_TAGGED_FIELDS == 1
    assert property_holder(host) is dictionary
    # field 0 stays tagged (it now holds the young dictionary, through the barrier)
    assert _recorded(heap, host, buffer) == [0]


def test_the_fault_leaves_the_stale_slots_recorded(heap, make, slow_candidate):
    host, buffer = slow_candidate
    migrate_to_dictionary(host, make(4), buffer, heap.remembered_set, frozenset({"no-slot-clear-on-layout-change"}))
    assert _recorded(heap, host, buffer) == [0, 1, 2, 3]


def test_the_verifier_reads_taggedness_from_the_map_word_as_the_heap_does(heap, make, slow_candidate):
    host, buffer = slow_candidate
    assert raw.tagged_count(host) == tagged_count(host) == 4
    migrate_to_dictionary(host, make(4), buffer, heap.remembered_set)
    assert raw.tagged_count(host) == tagged_count(host) == 1
    assert raw.DICTIONARY_TAGGED_FIELDS == DICTIONARY_TAGGED_FIELDS


def test_untagged_words_keep_their_old_bits(heap, make, slow_candidate):
    host, buffer = slow_candidate
    before = list(host.fields[1:])
    migrate_to_dictionary(host, make(4), buffer, heap.remembered_set)
    assert host.fields[1:] == before, "the model leaves raw data that looks like pointers"
