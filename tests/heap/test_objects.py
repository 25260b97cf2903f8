"""Heap objects: map word, forwarding, death by zapping or freeing, kind."""

from __future__ import annotations

import pytest

from testbed.heap import HEADER_WORDS, Kind, Map

pytestmark = pytest.mark.timeout(30)


def test_fresh_object_has_its_kind_map_and_no_forwardee(make):
    obj = make(3, kind=Kind.CLOSURE)

    assert obj.map_word is Map.CLOSURE
    assert obj.kind is Kind.CLOSURE
    assert obj.forwardee is None
    assert not obj.is_dead
    assert obj.fields == [None, None, None]


@pytest.mark.parametrize("kind", list(Kind))
def test_map_of_each_kind_round_trips(kind):
    assert Kind(Map.of(kind).value) is kind


def test_size_and_slot_address_count_the_header(make):
    obj = make(4, old=True)

    assert HEADER_WORDS == 1
    assert obj.size == 5
    assert [obj.slot_address(i) for i in range(4)] == [obj.offset + 1 + i for i in range(4)]


def test_forwardee_is_the_copy_installed_in_the_map_word(make):
    original = make(2)
    copy = make(2, old=True)

    original.map_word = copy

    assert original.forwardee is copy
    assert copy.forwardee is None
    assert not original.is_dead


def test_kind_follows_the_forwarding_chain(make):
    first = make(1, kind=Kind.HEAP_NUMBER)
    second = make(1, kind=Kind.HEAP_NUMBER)
    third = make(1, old=True, kind=Kind.HEAP_NUMBER)

    first.map_word = second
    second.map_word = third

    assert first.kind is Kind.HEAP_NUMBER
    assert first.forwardee is second


def test_kind_is_the_copys_kind_not_the_originals(make):
    # Only the end of the chain carries a map.
    original = make(1, kind=Kind.PLAIN)
    copy = make(1, old=True, kind=Kind.CODE)

    original.map_word = copy

    assert original.kind is Kind.CODE


@pytest.mark.parametrize("poison", [Map.ZAPPED, Map.FREED])
def test_zapped_or_freed_object_is_dead_and_its_kind_raises(make, poison):
    obj = make(1)

    obj.map_word = poison

    assert obj.is_dead
    assert obj.forwardee is None
    with pytest.raises(ValueError, match=poison.value):
        _ = obj.kind


def test_kind_through_a_chain_ending_in_a_zapped_object_raises(make):
    original = make(1)
    copy = make(1)
    original.map_word = copy
    copy.map_word = Map.ZAPPED

    assert not original.is_dead  # only its own map word counts
    with pytest.raises(ValueError, match="zapped"):
        _ = original.kind


def test_repr_names_lid_state_and_address(make):
    obj = make(1, old=True)

    assert repr(obj) == f"<#{obj.lid} plain @old:0+{obj.offset}>"
    copy = make(1, old=True)
    obj.map_word = copy
    assert repr(obj) == f"<#{obj.lid} ->old:0 @old:0+{obj.offset}>"
