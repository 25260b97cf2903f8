"""Worklist: the global pool of published segments.

Segments are stolen last-published-first.  A task returns once it sees no
item, no local object and no segment in the pool, as V8's
``Scavenger::Process`` does, even while others still hold local work; under
real threads and under controlled schedules a scavenge-shaped workload still
processes every object exactly once, because a publisher looks at the pool
again before it returns.  With ``unlocked-steal`` a segment published
between a steal's read and write of the pool is lost.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from testbed.gc import ItemQueue, Worklist
from testbed.sched import (
    ControlledScheduler,
    FreeScheduler,
    PCTStrategy,
    RandomStrategy,
    ReplayStrategy,
    Scheduler,
    point,
)

# -- single-threaded semantics ---------------------------------------------------


def test_steal_takes_segments_last_published_first() -> None:
    worklist = Worklist(1)
    first, second, third = ["a"], ["b", "c"], ["d"]
    for segment in (first, second, third):
        worklist.publish(segment)
    assert worklist.steal() is third
    assert worklist.steal() is second
    assert worklist.steal() is first
    assert worklist.steal() is None
    assert worklist.segments == []


# -- a scavenge-shaped workload ------------------------------------------------------

ROOTS = 6
TREE = 80  # objects per root: (root, k) has children (root, 3k+1 .. 3k+3) below TREE
SEGMENT = 4


def drain_with_stealing(scheduler: Scheduler, run_threads, tasks: int) -> tuple[int, int]:
    """Tasks claim roots, publish the older half of a long local list, steal when empty, return when no work is seen.

    Checks every object is processed exactly once and that when the last
    task returns nothing is left anywhere.
    """
    worklist = Worklist(tasks)
    items = ItemQueue([(root, 0) for root in range(ROOTS)])
    processed: dict[str, list[tuple[int, int]]] = {f"task-{i}": [] for i in range(tasks)}
    count_lock = threading.Lock()  # never held across a point: safe in both modes
    outstanding = [ROOTS]  # objects not processed yet, wherever they are
    finished: list[tuple[str, int, int, bool]] = []
    steals = [0]

    def task(name: str) -> None:
        local: list[tuple[int, int]] = []

        def drain() -> None:
            while local:
                if len(local) > SEGMENT:
                    half = len(local) // 2
                    worklist.publish(local[:half])
                    del local[:half]
                obj = local.pop()
                point("test-scan", obj)
                processed[name].append(obj)
                root, k = obj
                children = [(root, c) for c in range(3 * k + 1, 3 * k + 4) if c < TREE]
                with count_lock:
                    outstanding[0] += len(children) - 1
                local.extend(children)

        while (item := items.claim()) is not None:
            local.append(item)
            drain()
        while True:
            drain()
            segment = worklist.steal()
            if segment is not None:
                steals[0] += 1
                local.extend(segment)
                continue
            finished.append((name, outstanding[0], len(worklist.segments)))
            return

    assert run_threads(scheduler, {name: (lambda n=name: task(n)) for name in processed}) == {}
    assert sorted(name for name, _, _ in finished) == sorted(processed)
    assert finished[-1][1:] == (0, 0), "the last task to return left work behind"
    counts = Counter(obj for objs in processed.values() for obj in objs)
    assert sorted(counts) == [(root, k) for root in range(ROOTS) for k in range(TREE)]
    assert set(counts.values()) == {1}, [obj for obj, n in counts.items() if n > 1]
    early = sum(1 for _, left, _ in finished if left)
    return steals[0], early


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_published_object_is_processed_once_by_real_threads(run_threads, seed: int) -> None:
    drain_with_stealing(FreeScheduler(seed, yield_probability=0.3), run_threads, tasks=3)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("tasks", [2, 4])
def test_every_published_object_is_processed_once_under_controlled_random_schedules(
    run_threads, seed: int, tasks: int
) -> None:
    scheduler = ControlledScheduler(RandomStrategy(seed, switch_probability=0.3))
    assert drain_with_stealing(scheduler, run_threads, tasks)[0] > 0
    assert scheduler.preemptions > 10


def test_a_task_returns_while_another_still_holds_local_work(run_threads) -> None:
    # V8's Scavenger::Process returns once the pool is empty; only the job's
    # Join says the whole scavenge is done.
    early = [
        drain_with_stealing(ControlledScheduler(RandomStrategy(seed, 0.3)), run_threads, 3)[1] for seed in range(4)
    ]
    assert any(early), "no task ever returned while work was outstanding"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_published_object_is_processed_once_under_controlled_pct_schedules(run_threads, seed: int) -> None:
    drain_with_stealing(ControlledScheduler(PCTStrategy(seed, depth=3, horizon=2000)), run_threads, tasks=3)


# -- the unlocked-steal fault ------------------------------------------------------

#: launch -> stealer; stealer keeps the turn at its read, yields at its write
LOST_PUBLISH_TAPE = [0, 0, 1]


def steal_against_publish(run_threads, faults: frozenset[str]) -> tuple[Worklist, dict[str, object], list]:
    worklist = Worklist(2, faults)
    old, new = ["old"], ["new"]
    worklist.publish(old)  # before the run: the stealer's read sees it
    got: dict[str, object] = {"old": old, "new": new}

    def stealer() -> None:
        got["stolen"] = worklist.steal()

    def publisher() -> None:
        worklist.publish(new)

    scheduler = ControlledScheduler(ReplayStrategy(LOST_PUBLISH_TAPE))
    assert run_threads(scheduler, {"stealer": stealer, "publisher": publisher}) == {}
    return worklist, got, scheduler.events


def test_unlocked_steal_loses_a_segment_published_between_its_read_and_write(run_threads) -> None:
    worklist, got, events = steal_against_publish(run_threads, frozenset({"unlocked-steal"}))
    switches = [(thread, detail) for _, kind, thread, detail in events if kind == "switch"]
    assert switches[0] == ("stealer", "publisher at worklist-steal-write")
    assert got["stolen"] is got["old"]
    assert worklist.segments == [], "the published segment was overwritten"
    assert worklist.steal() is None, "nobody will ever scan it"


def test_locked_steal_keeps_a_segment_published_during_the_steal(run_threads) -> None:
    worklist, got, events = steal_against_publish(run_threads, frozenset())
    blocks = [(thread, detail) for _, kind, thread, detail in events if kind == "block"]
    assert blocks[0] == ("publisher", "lock 'scavenge-worklist' held by stealer")
    assert got["stolen"] is got["old"]
    assert worklist.segments == [got["new"]]
