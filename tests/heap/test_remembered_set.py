"""The OLD_TO_NEW remembered set: page slot sets addressed by (host, field index)."""

from __future__ import annotations

import pytest

from testbed.heap import HEADER_WORDS, RememberedSet

pytestmark = pytest.mark.timeout(30)


def test_insert_batch_remembers_every_slot_and_counts_them(heap, make):
    remset = heap.remembered_set
    a, b = make(3, old=True), make(2, old=True)

    remset.insert_batch([(a, 0), (a, 2), (b, 1)])

    assert remset.contains(a, 0)
    assert remset.contains(a, 2)
    assert remset.contains(b, 1)
    assert not remset.contains(a, 1)
    assert not remset.contains(b, 0)
    assert remset.inserts == 3


def test_insert_batch_accepts_any_iterable(heap, make):
    remset = heap.remembered_set
    host = make(4, old=True)

    remset.insert_batch((host, i) for i in (3, 1))

    assert remset.contains(host, 1)
    assert remset.contains(host, 3)
    assert remset.inserts == 2


def test_insert_batch_sets_the_host_slot_address_in_its_page_slot_set(heap, make):
    host = make(3, old=True)

    heap.remembered_set.insert_batch([(host, 2)])

    assert list(host.page.slot_set.addresses()) == [host.offset + HEADER_WORDS + 2]
    assert host.slot_address(2) == host.offset + HEADER_WORDS + 2


def test_insert_batch_releases_the_lock(heap, make):
    remset = heap.remembered_set
    host = make(1, old=True)

    remset.insert_batch([(host, 0)])

    assert not remset.lock.locked()


def test_insert_batch_with_unlocked_fault_still_inserts_single_threaded(make):
    remset = RememberedSet(frozenset({"unlocked-remset-insert"}))
    host = make(2, old=True)

    remset.insert_batch([(host, 0), (host, 1)])

    assert remset.contains(host, 0)
    assert remset.contains(host, 1)
    assert remset.inserts == 2


def test_record_remembers_one_slot_and_counts_it(heap, make):
    remset = heap.remembered_set
    host = make(3, old=True)

    remset.record(host, 1)

    assert remset.contains(host, 1)
    assert not remset.contains(host, 0)
    assert remset.inserts == 1


def test_contains_is_false_for_unrecorded_slot(heap, make):
    host = make(2, old=True)

    assert not heap.remembered_set.contains(host, 0)


def test_slots_of_yields_host_and_field_index_for_every_remembered_slot(heap, make):
    remset = heap.remembered_set
    a, b, c = make(3, old=True), make(1, old=True), make(4, old=True)
    assert a.page is b.page is c.page
    remset.insert_batch([(c, 3), (a, 1), (b, 0)])
    remset.record(a, 0)
    remset.record(c, 0)

    slots = list(RememberedSet.slots_of(a.page))

    assert slots == [(a, 0), (a, 1), (b, 0), (c, 0), (c, 3)]
    for host, index in slots:
        assert host.slot_address(index) in set(a.page.slot_set.addresses())


def test_slots_of_walks_each_page_separately(heap, make):
    remset = heap.remembered_set
    # lab_words=16 and page_words=128: a 120-field object fills a page of its own.
    first = make(4, old=True)
    big = make(120, old=True)
    assert first.page is not big.page
    remset.insert_batch([(first, 3), (big, 119), (big, 0)])

    assert list(RememberedSet.slots_of(first.page)) == [(first, 3)]
    assert list(RememberedSet.slots_of(big.page)) == [(big, 0), (big, 119)]


def test_slots_of_empty_page_yields_nothing(heap, make):
    host = make(2, old=True)

    assert list(RememberedSet.slots_of(host.page)) == []


def test_slots_of_skips_addresses_with_no_object(heap, make):
    host = make(2, old=True)
    page = host.page
    free_address = page.capacity - 1
    assert page.object_at(free_address) is None
    page.slot_set.insert(free_address)
    heap.remembered_set.record(host, 1)

    assert list(RememberedSet.slots_of(page)) == [(host, 1)]


def test_slots_of_tolerates_removal_while_iterating(heap, make):
    # The scavenger removes dropped slots while it walks slots_of.
    remset = heap.remembered_set
    host = make(4, old=True)
    remset.insert_batch([(host, i) for i in range(4)])

    seen = []
    for h, index in RememberedSet.slots_of(host.page):
        seen.append(index)
        host.page.slot_set.remove(h.slot_address(index))

    assert seen == [0, 1, 2, 3]
    assert list(host.page.slot_set.addresses()) == []
