"""Worklist: the global pool of published segments and termination detection.

Segments are stolen last-published-first; ``wait_for_work`` says "done"
(False) to every task only once all of them are idle with the pool empty,
and "work" (True) to a waiting task when a segment is published.  Under real
threads and under controlled schedules a scavenge-shaped workload processes
every object exactly once and no task finishes while work remains.  With
``unlocked-steal`` a segment published between a steal's read and write of
the pool is lost.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from testbed.gc import ItemQueue, Worklist
from testbed.sched import (
    ControlledScheduler,
    Event,
    FreeScheduler,
    PCTStrategy,
    RandomStrategy,
    ReplayStrategy,
    Scheduler,
    point,
)


def never() -> bool:
    return False


# -- single-threaded semantics ---------------------------------------------------


def test_steal_takes_segments_last_published_first() -> None:
    worklist = Worklist(1, never)
    first, second, third = ["a"], ["b", "c"], ["d"]
    for segment in (first, second, third):
        worklist.publish(segment)
    assert worklist.steal() is third
    assert worklist.steal() is second
    assert worklist.steal() is first
    assert worklist.steal() is None
    assert worklist.segments == []


def test_sole_task_going_idle_with_an_empty_pool_is_done() -> None:
    worklist = Worklist(1, never)
    assert worklist.wait_for_work() is False
    assert worklist.done


def test_sole_task_going_idle_with_a_segment_in_the_pool_is_told_to_work() -> None:
    worklist = Worklist(1, never)
    worklist.publish(["x"])
    assert worklist.wait_for_work() is True
    assert not worklist.done
    assert worklist.idle == 0, "a task told to work is no longer idle"


# -- termination detection with several tasks ---------------------------------------


@pytest.mark.parametrize("tape", [[], [1, 1, 1, 1], [0, 2, 1, 0, 1, 2]])
def test_all_tasks_are_done_only_after_the_last_one_goes_idle(run_threads, tape: list[int]) -> None:
    tasks = 3
    worklist = Worklist(tasks, never)
    log: list[tuple[str, str, bool | None]] = []

    def task(name: str) -> None:
        log.append(("enter", name, None))
        log.append(("exit", name, worklist.wait_for_work()))

    errors = run_threads(
        ControlledScheduler(ReplayStrategy(tape)), {f"t{i}": (lambda n=f"t{i}": task(n)) for i in range(tasks)}
    )
    assert errors == {}
    enters = [entry for entry in log if entry[0] == "enter"]
    exits = [entry for entry in log if entry[0] == "exit"]
    assert log[:tasks] == enters, "no task returned before every task had gone idle"
    assert [result for _, _, result in exits] == [False] * tasks
    assert worklist.done


def test_waiting_task_is_told_to_work_when_a_segment_is_published(run_threads) -> None:
    worklist = Worklist(2, never)
    segment = ["obj"]
    resumed = Event("waiter-resumed")
    seen: dict[str, object] = {}

    def waiter() -> None:
        seen["first"] = worklist.wait_for_work()
        seen["stolen"] = worklist.steal()
        resumed.set()
        seen["second"] = worklist.wait_for_work()

    def publisher() -> None:
        # The replay tape runs the waiter first, so it is idle and blocked now.
        seen["idle_before_publish"] = worklist.idle
        seen["waiter_returned_before_publish"] = "first" in seen
        worklist.publish(segment)
        resumed.wait()
        seen["publisher"] = worklist.wait_for_work()

    errors = run_threads(ControlledScheduler(ReplayStrategy([])), {"waiter": waiter, "publisher": publisher})
    assert errors == {}
    assert seen["idle_before_publish"] == 1
    assert seen["waiter_returned_before_publish"] is False
    assert seen["first"] is True
    assert seen["stolen"] is segment
    assert seen["second"] is False and seen["publisher"] is False
    assert worklist.done and worklist.segments == []


def test_waiting_task_is_told_to_work_by_a_publish_from_a_real_thread(run_threads) -> None:
    worklist = Worklist(2, never)
    segment = ["obj"]
    waiting = threading.Event()
    resumed = Event("waiter-resumed")
    seen: dict[str, object] = {}

    class SignalWait(FreeScheduler):
        """Tells the test when the waiter has gone idle and is about to wait."""

        def point(self, kind: str, detail: object = None) -> None:
            super().point(kind, detail)
            if kind == "condition-wait" and threading.current_thread().name == "waiter":
                waiting.set()

    def waiter() -> None:
        seen["first"] = worklist.wait_for_work()
        seen["stolen"] = worklist.steal()
        resumed.set()
        seen["second"] = worklist.wait_for_work()

    def publisher() -> None:
        assert waiting.wait(10.0), "the waiter never went idle"
        worklist.publish(segment)
        resumed.wait(10.0)
        seen["publisher"] = worklist.wait_for_work()

    errors = run_threads(SignalWait(0, yield_probability=0.0), {"waiter": waiter, "publisher": publisher})
    assert errors == {}
    assert seen["first"] is True and seen["stolen"] is segment
    assert seen["second"] is False and seen["publisher"] is False


# -- a scavenge-shaped workload ------------------------------------------------------

ROOTS = 6
TREE = 80  # objects per root: (root, k) has children (root, 3k+1 .. 3k+3) below TREE
SEGMENT = 4


def drain_with_stealing(scheduler: Scheduler, run_threads, tasks: int) -> int:
    """Tasks claim roots, publish the older half of a long local list, steal when empty.

    Checks every object is processed exactly once and that when any task is
    told "done" nothing is left anywhere (no task finishes while work remains).
    """
    worklist = Worklist(tasks, never)
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
            if not worklist.wait_for_work():
                finished.append((name, outstanding[0], len(worklist.segments), worklist.done))
                return

    assert run_threads(scheduler, {name: (lambda n=name: task(n)) for name in processed}) == {}
    assert sorted(finished) == [(name, 0, 0, True) for name in sorted(processed)]
    counts = Counter(obj for objs in processed.values() for obj in objs)
    assert sorted(counts) == [(root, k) for root in range(ROOTS) for k in range(TREE)]
    assert set(counts.values()) == {1}, [obj for obj, n in counts.items() if n > 1]
    return steals[0]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_published_object_is_processed_once_by_real_threads(run_threads, seed: int) -> None:
    drain_with_stealing(FreeScheduler(seed, yield_probability=0.3), run_threads, tasks=3)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("tasks", [2, 4])
def test_every_published_object_is_processed_once_under_controlled_random_schedules(
    run_threads, seed: int, tasks: int
) -> None:
    scheduler = ControlledScheduler(RandomStrategy(seed, switch_probability=0.3))
    assert drain_with_stealing(scheduler, run_threads, tasks) > 0
    assert scheduler.preemptions > 10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_published_object_is_processed_once_under_controlled_pct_schedules(run_threads, seed: int) -> None:
    drain_with_stealing(ControlledScheduler(PCTStrategy(seed, depth=3, horizon=2000)), run_threads, tasks=3)


# -- the unlocked-steal fault ------------------------------------------------------

#: launch -> stealer; stealer keeps the turn at its read, yields at its write
LOST_PUBLISH_TAPE = [0, 0, 1]


def steal_against_publish(run_threads, faults: frozenset[str]) -> tuple[Worklist, dict[str, object], list]:
    worklist = Worklist(2, never, faults)
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
