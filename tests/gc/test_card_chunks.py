""".NET card marking in the model (``card_chunk_cells``): summary bits, chunk visits, the clamp.

docs/bugs/dotnet-117968-card-clear-past-chunk.md.  A slot set's summary bit
hides the cell under it from the scavenger and the checker alike; an
insertion in bundled mode leaves an already-set bit, and its hidden
summary, alone (.NET's write barrier).  A scavenger task clears the slots it
no longer needs inside its own chunk; fault ``card-clear-past-chunk`` lets
the clearing of a host straddling the chunk's end write the next chunk's cell.
"""

from __future__ import annotations

import pytest

import testbed.heap.slot_set as slot_set_module
from testbed.gc import Evacuator
from testbed.heap import Heap, Kind, SlotSet, ThreadAllocator

pytestmark = pytest.mark.timeout(30)


def test_a_bit_under_a_cleared_summary_is_hidden_and_a_skipping_insert_leaves_it_hidden() -> None:
    slots = SlotSet(256)
    slots.insert(40)
    assert slots.contains(40) and list(slots.addresses()) == [40]
    slots.clear_cards(32, 64)
    slots.clear_empty_summaries(32, 64)
    assert slots.summary[0] >> 1 & 1 == 0, "the emptied cell's summary bit is cleared"
    # A stale write-back puts the bit back under the cleared summary bit.
    slots.buckets[0][1] |= 1 << (40 % 32)  # type: ignore[index]
    assert not slots.contains(40) and list(slots.addresses()) == []
    slots.insert(40, skip_if_set=True)  # .NET's barrier: the card is set, nothing written
    assert not slots.contains(40)
    slots.insert(40)  # V8's insertion writes the bit and its summary
    assert slots.contains(40) and list(slots.addresses(32, 64)) == [40]


def _straddling_host(faults: frozenset[str]) -> tuple[Heap, Evacuator, object]:
    """An old host over word 32 (the end of chunk 0), with an unneeded slot on each side."""
    heap = Heap(new_space_pages=2, page_words=256, lab_words=64, card_chunk_cells=1)
    allocator = ThreadAllocator(heap)
    filler = allocator.allocate(Kind.PLAIN, 27, old=True)
    host = allocator.allocate(Kind.PLAIN, 8, old=True)
    assert filler is not None and host is not None
    assert host.offset < 32 < host.offset + host.size, "the host straddles chunk 0's end"
    old_target = allocator.allocate(Kind.PLAIN, 1, old=True)
    inside, past = 30 - host.offset - 1, 34 - host.offset - 1
    host.fields[inside] = host.fields[past] = old_target  # neither slot is needed
    heap.remembered_set.insert_batch([(host, inside), (host, past)])
    return heap, Evacuator(heap, faults, "t"), host


@pytest.mark.parametrize(
    ("faults", "cells_written"), [(frozenset(), [0]), (frozenset({"card-clear-past-chunk"}), [0, 32])]
)
def test_a_task_clears_only_its_own_chunk_unless_the_clamp_is_dropped(
    monkeypatch: pytest.MonkeyPatch, faults: frozenset[str], cells_written: list[int]
) -> None:
    written: list[int] = []
    real_point = slot_set_module.point

    def spy(kind: str, detail: object = None) -> None:
        if kind == "card-clear-write":
            written.append(detail)  # type: ignore[arg-type]
        real_point(kind, detail)

    monkeypatch.setattr(slot_set_module, "point", spy)
    _heap, evacuator, host = _straddling_host(faults)
    page = host.page  # type: ignore[attr-defined]
    evacuator.visit_remembered_chunk(page, 0, 32)
    assert written == cells_written
    assert not page.slot_set.contains(30), "the unneeded slot in the chunk is cleared"
    assert page.slot_set.contains(34), "the next chunk's slot is its task's to clear"
    evacuator.visit_remembered_chunk(page, 32, 64)
    assert list(page.slot_set.addresses()) == []
    assert page.slot_set.summary[0] & 0b11 == 0, "both cells emptied: their summary bits are cleared"
