"""One bug, one bucket: buckets whose racing pairs coincide are merged into the first (no runs here)."""

from __future__ import annotations

import pytest

from testbed.campaign.merge import merged
from testbed.races import Op, Race, pair_key

pytestmark = pytest.mark.timeout(10)


def op(step: int, thread: str, kind: str, detail: object) -> Op:
    return Op(step, thread, kind, detail, "testbed/heap/slot_set.py:47 (insert)", None)


def race(preempted: Op, conflicting: list[Op], necessary: bool = True) -> Race:
    return Race(1, 0, preempted, preempted.step + 10, conflicting, None if necessary else "x", necessary)


def test_the_same_pairs_with_other_ids_threads_and_steps_have_one_key() -> None:
    seen_at_pause = [
        race(op(98, "mutator-0", "slot-set-publish-bucket", 0), [op(116, "mutator-1", "slot-set-publish-bucket", 0)]),
        race(op(10, "mutator-0", "lock-acquire", "safepoint"), []),  # a timing preemption: not a pair
    ]
    seen_at_end = [
        race(op(7, "mutator-3", "slot-set-publish-bucket", 2), [op(9, "mutator-2", "slot-set-publish-bucket", 2)])
    ]
    assert pair_key(seen_at_pause) == pair_key(seen_at_end) != ()
    other_bug = [race(op(5, "scavenger-0", "forwarding-store", 40), [op(6, "scavenger-1", "forwarding-store", 40)])]
    assert pair_key(other_bug) != pair_key(seen_at_end)
    unneeded = [race(op(98, "mutator-0", "slot-set-publish-bucket", 0), [op(99, "mutator-1", "x", 0)], False)]
    assert pair_key(unneeded) == ()


def test_later_buckets_merge_into_the_first_with_the_same_key_and_empty_keys_never_merge() -> None:
    keys = {1: ("a",), 2: (), 3: ("b",), 4: ("a",), 5: (), 6: ("b",)}
    assert merged(keys) == {4: 1, 6: 3}


def test_synchronization_that_sets_a_race_up_is_not_part_of_its_key() -> None:
    core = race(op(98, "mutator-0", "slot-set-write-cell", 21), [op(99, "mutator-1", "slot-set-write-cell", 14)])
    setup_a = race(op(10, "mutator-0", "lock-acquire", "safepoint"), [op(12, "mutator-1", "lock-acquire", "safepoint")])
    setup_b = race(
        op(20, "mutator-1", "interrupt-test", "mutator-1"), [op(21, "mutator-0", "interrupt-set", "mutator-1")]
    )
    assert pair_key([core, setup_a]) == pair_key([setup_b, core]) == pair_key([core]) != ()
