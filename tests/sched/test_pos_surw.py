"""Strategies pos (Yuan et al., CAV 2018) and surw (Zhao et al., ASPLOS 2025), issue 10 item 1.

POS: the conflict table classifies a point into a resource and read/write;
executing an operation re-draws the priorities of the pending operations it
races with.  SURW: a profiling run counts each thread's interesting points;
the walk switches only at interesting points (user code: anywhere, the intended
thread first at interesting ones), weighting threads by what they have left.  Both get every point from the scheduler, and only they do.
"""

from __future__ import annotations

import json
from pathlib import Path

import testbed
from testbed.probes import surw_profile
from testbed.sched import (
    ControlledScheduler,
    POSStrategy,
    RandomStrategy,
    SURWProfile,
    SURWStrategy,
    point,
)
from testbed.sched._pos import races, resource
from testbed.sched._surw import INTERESTING

SMALL = ("--scenario", "mixed", "--ops", "300", "--gc-interval", "30")


def test_the_conflict_table_tells_same_object_and_a_write() -> None:
    read, write = resource("slot-set-read-cell", 8), resource("slot-set-write-cell", 8)
    assert races(read, write) and races(write, write)
    assert not races(read, read)
    assert not races(write, resource("slot-set-write-cell", 16)), "another cell"
    assert races(resource("forwarding-store", 3), resource("forwarding-store", 3))
    assert not races(resource("forwarding-store", 3), resource("forwarding-cas", 4))
    # one worklist, one weak-list head: the detail does not name them
    assert races(resource("worklist-steal-read", None), resource("worklist-steal-write", None))
    assert races(resource("weak-list-read-head", None), resource("weak-list-unlink", 7))
    assert races(resource("lock-acquire", "a"), resource("condition-wait", "a"))
    assert not races(resource("lock-acquire", "a"), resource("lock-acquire", "b"))
    # unknown kinds: conservative, racing with the same kind and detail only
    assert races(resource("mystery", 1), resource("mystery", 1))
    assert not races(resource("mystery", 1), resource("mystery", 2))
    # leaving a parked runtime call races with a GC request to the same mutator
    assert races(resource("deopt-runtime-call", "mutator-1"), resource("interrupt-set", "mutator-1"))
    assert not races(resource("deopt-runtime-call", "mutator-1"), resource("interrupt-set", "mutator-2"))


def test_pos_redraws_the_priorities_of_racing_pending_operations_only() -> None:
    pos = POSStrategy(3)
    for index in (0, 1, 2):
        pos.register(index)
    pos.at_point(0, "slot-set-write-cell", 8)
    pos.at_point(1, "slot-set-read-cell", 8)
    pos.at_point(2, "slot-set-read-cell", 16)
    before = dict(pos._priority)
    pos.at_point(0, "lock-acquire", "x")  # thread 0 executed its write of cell 8
    assert pos._priority[1] != before[1], "a read of cell 8 races with the write"
    assert pos._priority[2] == before[2], "cell 16 does not"
    assert pos._priority[0] != before[0], "the executing thread's next operation is fresh"


def test_pos_runs_the_highest_priority_thread_relative_to_the_current_one() -> None:
    pos = POSStrategy(1)
    for index in (0, 1, 2):
        pos.register(index)
    pos._priority.update({0: 0.1, 1: 0.9, 2: 0.5})
    assert pos.decide(1, [0, 1, 2], 1, True) == 0
    assert pos.decide(2, [0, 1, 2], 2, True) == 2  # 2 -> 0 -> 1
    assert pos.decide(3, [0, 2], -1, False) == 1


def test_surw_weights_by_remaining_interesting_points_and_keeps_the_thread_elsewhere() -> None:
    surw = SURWStrategy(5, profile=[1, 1000])
    surw.register(0)
    surw.register(1)
    surw.at_point(0, "lock-acquire", "x")
    assert surw.decide(1, [0, 1], 0, True) == 0, "not an interesting point: keep running"
    surw.at_point(0, "slot-set-write-cell", 8)
    picks = [surw.decide(i, [0, 1], 0, True) for i in range(200)]
    assert sum(picks) > 180, "thread 1 has far more left"


def test_user_surw_may_switch_at_a_primitive_and_runs_the_intended_thread_at_interesting_points() -> None:
    # Gamma-completeness (Fray's SURWScheduler): a primitive's operation is not
    # interesting, yet another thread may run first, or a window between two
    # critical sections could never be entered (bench/sctbench/twostage_3).
    def fresh(seed: int) -> SURWStrategy:
        surw = SURWStrategy(seed, profile=[1, 1000], user=True)
        surw.register(0)
        surw.register(1)
        surw.at_point(1, "user", None)
        return surw

    at_lock: list[int] = []
    for seed in range(40):
        surw = fresh(seed)
        surw.at_point(0, "lock-acquire", "x")
        at_lock.append(surw.decide(1, [0, 1], 0, True))
    assert set(at_lock) == {0, 1}, "either thread may run at a lock operation"
    picks = []
    for seed in range(200):
        surw = fresh(seed)
        surw.at_point(0, "user", None)
        picks.append(surw.decide(1, [0, 1], 0, True))
    assert sum(picks) > 180, "both interesting: thread 1, with far more left, is the intended one"


def worker(name: str, log: list[str]) -> object:
    def body() -> None:
        for i in range(5):
            point("slot-set-write-cell", i)
            log.append(name)
            point("lock-acquire", "x")

    return body


def test_only_strategies_that_want_ops_get_the_reporting_point(run_threads) -> None:
    assert "point" not in vars(ControlledScheduler(RandomStrategy(1)))
    assert "point" in vars(ControlledScheduler(POSStrategy(1)))
    profile = SURWProfile()
    run_threads(ControlledScheduler(profile), {n: worker(n, []) for n in ("a", "b")})
    assert profile.counts == [5, 5]
    assert "slot-set-write-cell" in INTERESTING and "lock-acquire" not in INTERESTING
    for strategy in (POSStrategy(4), SURWStrategy(4, profile.counts)):
        log: list[str] = []
        scheduler = ControlledScheduler(strategy)
        run_threads(scheduler, {n: worker(n, log) for n in ("a", "b")})
        assert sorted(log) == ["a"] * 5 + ["b"] * 5
        assert scheduler.preemptions > 0


def test_pos_and_surw_runs_are_clean_and_replay(cli, tmp_path: Path) -> None:
    for strategy in ("pos", "surw"):
        path = tmp_path / f"{strategy}.json"
        ran = cli("run", *SMALL, "--strategy", strategy, "--seed", "1", "--trace-out", str(path))
        assert ran.code == 0, ran
        assert json.loads(path.read_text())["strategy"] == strategy
        replayed = cli("replay", str(path), "--json", "-")
        assert replayed.code == 0, replayed


def test_the_surw_profile_is_a_function_of_the_config() -> None:
    config = testbed.Config(scenario="mixed", ops=200, gc_interval=30, strategy="surw", seed=2)
    profile = surw_profile(config)
    assert profile and sum(profile) > 0
    testbed.probes._profiles.clear()
    assert surw_profile(config) == profile
