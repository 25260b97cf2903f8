"""Evacuator: one scavenger task's copy, promotion, forwarding and slot handling.

Objects are set up with a small heap's allocator, then ``new_space.flip()``
starts the scavenge as ``ScavengeJob`` does: yesterday's to-space becomes
from-space.  The age mark is set (as the end of a scavenge sets it) between
allocating objects that will be promoted and objects that will be copied.
"""

from __future__ import annotations

from testbed.gc import Evacuator
from testbed.heap import NEW_FROM, NEW_TO, OLD, Kind

NO_FAULTS: frozenset[str] = frozenset()


def survivors_and_newcomers(young_heap):
    """(heap, allocator, survivor, newcomer): the survivor is below the age mark."""
    heap, allocator = young_heap()
    survivor = allocator.allocate(Kind.PLAIN, 2)
    heap.new_space.set_age_mark()  # the survivor "survived one scavenge"
    allocator.give_up_labs()  # so the next object lands above the mark
    newcomer = allocator.allocate(Kind.CLOSURE, 3)
    return heap, allocator, survivor, newcomer


def test_evacuate_copies_an_object_above_the_age_mark_into_to_space(young_heap) -> None:
    heap, allocator, _, obj = survivors_and_newcomers(young_heap)
    other = allocator.allocate(Kind.PLAIN, 1)
    obj.fields[:] = [17, other, None]
    heap.new_space.flip()
    assert obj.page.owner == NEW_FROM
    evacuator = Evacuator(heap, NO_FAULTS, "t")
    copy = evacuator.evacuate(obj)
    assert copy is not obj
    assert copy.page.owner == NEW_TO and copy.page.young
    assert (copy.lid, copy.kind) == (obj.lid, Kind.CLOSURE)
    assert copy.fields == [17, other, None], "fields are copied as they are; scanning updates them later"
    assert copy.fields is not obj.fields
    assert obj.map_word is copy and obj.forwardee is copy, "forwarding installed in the original's map word"
    assert (evacuator.copied, evacuator.promoted, evacuator.races_lost) == (1, 0, 0)
    assert evacuator.grey == [copy], "the copy waits to be scanned"


def test_evacuate_promotes_an_object_below_the_age_mark(young_heap) -> None:
    heap, _, obj, _ = survivors_and_newcomers(young_heap)
    obj.fields[:] = [5, None]
    heap.new_space.flip()
    assert heap.new_space.below_age_mark(obj.page, obj.offset)
    evacuator = Evacuator(heap, NO_FAULTS, "t")
    copy = evacuator.evacuate(obj)
    assert copy.page.owner == OLD and not copy.page.young
    assert (copy.lid, copy.kind, copy.fields) == (obj.lid, Kind.PLAIN, [5, None])
    assert obj.forwardee is copy
    assert (evacuator.copied, evacuator.promoted) == (0, 1)
    assert evacuator.grey == [copy]


def test_evacuate_promotes_when_to_space_is_full(young_heap) -> None:
    heap, _, _, obj = survivors_and_newcomers(young_heap)
    heap.new_space.flip()
    while heap.new_space.allocate_lab(heap.lab_words, 1) is not None:
        pass  # another task took every to-space LAB
    assert not heap.new_space.below_age_mark(obj.page, obj.offset)
    evacuator = Evacuator(heap, NO_FAULTS, "t")
    copy = evacuator.evacuate(obj)
    assert copy.page.owner == OLD
    assert copy.lid == obj.lid and obj.forwardee is copy
    assert (evacuator.copied, evacuator.promoted) == (0, 1)


def test_second_evacuate_returns_the_same_forwardee_without_copying(young_heap) -> None:
    heap, _, survivor, newcomer = survivors_and_newcomers(young_heap)
    heap.new_space.flip()
    first, second = Evacuator(heap, NO_FAULTS, "a"), Evacuator(heap, NO_FAULTS, "b")
    for obj in (survivor, newcomer):
        copy = first.evacuate(obj)
        assert first.evacuate(obj) is copy
        assert second.evacuate(obj) is copy
    assert (first.copied, first.promoted, len(first.grey)) == (1, 1, 2)
    assert (second.copied, second.promoted, second.races_lost, second.grey) == (0, 0, 0, [])
    assert [o.lid for o in heap.young_objects()] == [newcomer.lid], "exactly one copy in to-space"


def test_visit_remembered_page_keeps_slots_whose_target_stays_young_and_drops_the_rest(young_heap) -> None:
    heap, allocator, promoted, copied = survivors_and_newcomers(young_heap)
    old_target = allocator.allocate(Kind.PLAIN, 1, old=True)
    host = allocator.allocate(Kind.CONTEXT, 4, old=True)
    host.fields[:] = [copied, promoted, old_target, 9]
    remembered_set = heap.remembered_set
    remembered_set.insert_batch([(host, index) for index in range(4)])
    heap.new_space.flip()

    evacuator = Evacuator(heap, NO_FAULTS, "t")
    evacuator.visit_remembered_page(host.page)

    assert host.fields[0] is copied.forwardee and host.fields[0].page.owner == NEW_TO
    assert host.fields[1] is promoted.forwardee and host.fields[1].page.owner == OLD
    assert host.fields[2:] == [old_target, 9]
    assert [remembered_set.contains(host, index) for index in range(4)] == [True, False, False, False]
    assert (evacuator.slots_kept, evacuator.slots_dropped) == (1, 3)
    assert (evacuator.copied, evacuator.promoted) == (1, 1)


def promoted_host_with_fields(young_heap, faults: frozenset[str]):
    """Evacuate a survivor whose fields are [young newcomer, Smi, old object, None]."""
    heap, allocator, host, young = survivors_and_newcomers(young_heap)
    old_target = allocator.allocate(Kind.PLAIN, 1, old=True)
    host.fields[:] = [young, 3]
    young.fields[:] = [old_target, host, None]
    heap.new_space.flip()
    evacuator = Evacuator(heap, faults, "t")
    promoted = evacuator.evacuate(host)
    assert promoted.page.owner == OLD
    evacuator.scan(evacuator.grey.pop())
    return heap, evacuator, promoted, young, old_target


def test_scan_updates_fields_and_records_young_fields_of_a_promoted_object(young_heap) -> None:
    heap, evacuator, promoted, young, _ = promoted_host_with_fields(young_heap, NO_FAULTS)
    young_copy = promoted.fields[0]
    assert young_copy is young.forwardee and young_copy.page.owner == NEW_TO
    assert promoted.fields[1] == 3
    assert heap.remembered_set.contains(promoted, 0)
    assert not heap.remembered_set.contains(promoted, 1)
    assert evacuator.grey == [young_copy]


def test_scan_of_a_young_copy_records_nothing(young_heap) -> None:
    heap, evacuator, promoted, _, old_target = promoted_host_with_fields(young_heap, NO_FAULTS)
    young_copy = evacuator.grey.pop()
    evacuator.scan(young_copy)
    assert young_copy.fields == [old_target, promoted, None], "the back pointer now names the promoted copy"
    assert not any(young_copy.page.slot_set.contains(young_copy.slot_address(i)) for i in range(3))
    assert [heap.remembered_set.contains(promoted, i) for i in range(2)] == [True, False]


def test_scan_with_promote_without_remset_forgets_the_promoted_objects_young_fields(young_heap) -> None:
    heap, _, promoted, young, _ = promoted_host_with_fields(young_heap, frozenset({"promote-without-remset"}))
    assert promoted.fields[0] is young.forwardee, "the field is still updated"
    assert promoted.fields[0].page.young
    assert not heap.remembered_set.contains(promoted, 0), "but the old-to-young slot is not remembered"
