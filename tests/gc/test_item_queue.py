"""ItemQueue: the scavenge's root and remembered-set-page items, claimed by index.

Each item must go to exactly one task however the tasks interleave (V8 claims
items with an atomic ``fetch_add``), and an exhausted queue keeps answering None.
"""

from __future__ import annotations

from collections import Counter

import pytest

from testbed.gc import ItemQueue
from testbed.sched import ControlledScheduler, FreeScheduler, RandomStrategy, Scheduler

ITEMS = 300
TASKS = 4


def claim_all(queue: ItemQueue[int], into: list[int]) -> None:
    while (item := queue.claim()) is not None:
        into.append(item)


def claim_concurrently(run_threads, scheduler: Scheduler) -> dict[str, list[int]]:
    queue = ItemQueue(list(range(ITEMS)))
    claimed: dict[str, list[int]] = {f"task-{i}": [] for i in range(TASKS)}
    bodies = {name: (lambda into=into: claim_all(queue, into)) for name, into in claimed.items()}
    assert run_threads(scheduler, bodies) == {}
    assert queue.claim() is None, "the queue stays exhausted"
    return claimed


def assert_each_item_claimed_once(claimed: dict[str, list[int]]) -> None:
    counts = Counter(item for items in claimed.values() for item in items)
    assert sorted(counts) == list(range(ITEMS))
    assert set(counts.values()) == {1}, [item for item, n in counts.items() if n > 1]
    for items in claimed.values():
        assert items == sorted(items), "one task claims in increasing index order"


def test_claim_returns_items_in_order_then_none_forever() -> None:
    queue = ItemQueue(["a", "b", "c"])
    assert [queue.claim() for _ in range(3)] == ["a", "b", "c"]
    assert [queue.claim() for _ in range(5)] == [None] * 5


def test_empty_queue_claims_none() -> None:
    assert ItemQueue([]).claim() is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_item_claimed_exactly_once_by_real_threads_in_free_mode(run_threads, seed: int) -> None:
    claimed = claim_concurrently(run_threads, FreeScheduler(seed, yield_probability=0.5))
    assert_each_item_claimed_once(claimed)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_each_item_claimed_exactly_once_under_controlled_random_schedules(run_threads, seed: int) -> None:
    scheduler = ControlledScheduler(RandomStrategy(seed, switch_probability=0.5))
    claimed = claim_concurrently(run_threads, scheduler)
    assert_each_item_claimed_once(claimed)
    assert scheduler.preemptions > 10, "the schedule should interleave the tasks"
    assert sum(1 for items in claimed.values() if items) > 1, "more than one task got items"
