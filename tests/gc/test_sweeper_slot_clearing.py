"""The sweeper's slot clearing: exactly the freed range, and a read-modify-write of each cell.

``SlotSet.clear_range`` (V8's ``SlotSet::RemoveRange`` for the sweeper's
free ranges) clears the bits of ``[start, end)`` and no others, across cell
and bucket boundaries.  It reads a cell and stores it back masked, with a
scheduling point in between: a write to the same cell by a thread that does
not take the remembered set's mutex (the scavenger, which relies on the
sweeper being paused) lands in between and is undone.
"""

from __future__ import annotations

import pytest

from testbed.heap.slot_set import BUCKET_SLOTS, CELL_BITS, SlotSet
from testbed.sched import ControlledScheduler, ReplayStrategy


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 1), (3, 29), (30, 70), (0, CELL_BITS), (BUCKET_SLOTS - 5, BUCKET_SLOTS + 7), (17, 17)],
)
def test_clear_range_clears_exactly_the_range(start: int, end: int) -> None:
    capacity = 2 * BUCKET_SLOTS
    everything = [a for a in range(capacity) if a % 3 == 0 or a % 7 == 0]
    slot_set = SlotSet(capacity)
    for address in everything:
        slot_set.insert(address)
    slot_set.clear_range(start, end)
    assert list(slot_set.addresses()) == [a for a in everything if not start <= a < end]


def test_a_write_between_the_sweepers_read_and_store_of_a_cell_is_undone(run_threads) -> None:
    slot_set = SlotSet(64)
    slot_set.insert(2)  # a dead host's slot, in the range the sweeper frees
    slot_set.insert(9)  # a live slot in the same cell, outside the range

    def sweeper() -> None:
        slot_set.clear_range(0, 4)

    def scavenger() -> None:
        slot_set.remove(9)  # its target was promoted: the scavenger drops it

    # launch -> sweeper; it yields at its point between reading and storing the cell
    scheduler = ControlledScheduler(ReplayStrategy([0, 1]))
    assert run_threads(scheduler, {"sweeper": sweeper, "scavenger": scavenger}) == {}
    switches = [(thread, detail) for _, kind, thread, detail in scheduler.events if kind == "switch"]
    assert switches[0] == ("sweeper", "scavenger at slot-set-clear-cell")
    assert list(slot_set.addresses()) == [9], "the sweeper's stale store brought the dropped slot back"
