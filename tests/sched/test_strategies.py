"""Strategies: random, pct, replay and no-preemption, as units and inside a controlled run.

A decision is relative to the running thread when it can go on (0 keeps it
running, k switches to the k-th next runnable thread) and an index into the
runnable threads when it cannot (it blocked or ended).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import pytest

from testbed.sched import (
    ControlledScheduler,
    NoPreemptionStrategy,
    PCTStrategy,
    RandomStrategy,
    ReplayStrategy,
    Strategy,
    point,
)

THREADS = (0, 1, 2, 3)


def questions(count: int, seed: int = 99) -> list[tuple[int, list[int], int, bool]]:
    """A fixed sequence of (step, runnable, current, current_runnable) a run could ask."""
    rng = random.Random(seed)
    asked = []
    for step in range(1, count + 1):
        runnable = sorted(rng.sample(THREADS, rng.randrange(2, len(THREADS) + 1)))
        if rng.random() < 0.8:
            asked.append((step, runnable, rng.choice(runnable), True))
        else:
            asked.append((step, runnable, -1, False))
    return asked


def answers(strategy: Strategy, asked: list[tuple[int, list[int], int, bool]]) -> list[int]:
    for index in THREADS:
        strategy.register(index)
    return [strategy.decide(*q) for q in asked]


def chosen(runnable: list[int], current: int, current_runnable: bool, decision: int) -> int:
    """The thread a decision picks, as the controlled scheduler reads it."""
    if not current_runnable:
        return runnable[decision % len(runnable)]
    return runnable[(runnable.index(current) + decision) % len(runnable)]


# -- random -------------------------------------------------------------------------------


def test_random_strategy_is_deterministic_per_seed() -> None:
    asked = questions(500)
    assert answers(RandomStrategy(4), asked) == answers(RandomStrategy(4), asked)
    assert answers(RandomStrategy(4), asked) != answers(RandomStrategy(5), asked)


def test_random_strategy_with_switch_probability_zero_never_preempts() -> None:
    asked = questions(500)
    decisions = answers(RandomStrategy(4, switch_probability=0.0), asked)
    for (_, runnable, _, current_runnable), decision in zip(asked, decisions, strict=True):
        if current_runnable:
            assert decision == 0
        else:
            assert 0 <= decision < len(runnable)


def test_random_strategy_with_switch_probability_one_always_switches_to_another_thread() -> None:
    asked = questions(300)
    decisions = answers(RandomStrategy(4, switch_probability=1.0), asked)
    for (_, runnable, current, current_runnable), decision in zip(asked, decisions, strict=True):
        assert 0 <= decision < len(runnable)
        if current_runnable:
            assert chosen(runnable, current, True, decision) != current


def test_random_strategy_switch_rate_follows_its_probability() -> None:
    asked = [(step, [0, 1, 2], 0, True) for step in range(1, 4001)]
    decisions = answers(RandomStrategy(8, switch_probability=0.1), asked)
    rate = sum(1 for d in decisions if d) / len(decisions)
    assert 0.07 < rate < 0.13


# -- pct ----------------------------------------------------------------------------------


def test_pct_strategy_is_deterministic_per_seed() -> None:
    asked = questions(500)
    assert answers(PCTStrategy(4, depth=3, horizon=500), asked) == answers(PCTStrategy(4, depth=3, horizon=500), asked)
    different = [answers(PCTStrategy(seed, depth=3, horizon=500), asked) for seed in range(5, 10)]
    assert any(d != answers(PCTStrategy(4, depth=3, horizon=500), asked) for d in different)


def test_pct_with_depth_one_always_runs_the_highest_priority_runnable_thread() -> None:
    strategy = PCTStrategy(21, depth=1, horizon=100)
    for index in THREADS:
        strategy.register(index)
    # The priority order, read off by asking with no current thread.
    order: list[int] = []
    left = list(THREADS)
    while len(left) > 1:
        best = left[strategy.decide(1, left, -1, False)]
        order.append(best)
        left.remove(best)
    order += left
    for step, runnable, current, current_runnable in questions(500):
        decision = strategy.decide(step, runnable, current, current_runnable)
        best = min(runnable, key=order.index)
        assert chosen(runnable, current, current_runnable, decision) == best
        if current_runnable and current == best:
            assert decision == 0, "the highest-priority thread is never preempted"


def test_pct_decisions_are_relative_to_the_current_thread() -> None:
    strategy = PCTStrategy(3, depth=1)
    for index in (0, 1, 2):
        strategy.register(index)
    best = [0, 1, 2][strategy.decide(1, [0, 1, 2], -1, False)]
    assert strategy.decide(2, [0, 1, 2], best, True) == 0
    for current in {0, 1, 2} - {best}:
        decision = strategy.decide(3, [0, 1, 2], current, True)
        assert decision != 0
        assert (current + decision) % 3 == best


def test_pct_depth_d_lowers_priorities_at_change_points() -> None:
    strategy = PCTStrategy(6, depth=3, horizon=10)
    for index in (0, 1):
        strategy.register(index)
    current = [0, 1][strategy.decide(0, [0, 1], -1, False)]
    switches = 0
    for step in range(1, 30):
        decision = strategy.decide(step, [0, 1], current, True)
        if decision:
            switches += 1
            current = chosen([0, 1], current, True, decision)
    # Two change points within the horizon; each can demote the running thread.
    assert 1 <= switches <= 2


def test_pct_rejects_depth_below_one() -> None:
    with pytest.raises(ValueError, match="depth must be at least 1"):
        PCTStrategy(0, depth=0)


# -- replay -------------------------------------------------------------------------------


def test_replay_strategy_returns_its_tape_then_zeros() -> None:
    strategy = ReplayStrategy([3, 0, 7])
    decisions = [strategy.decide(step, [0, 1], 0, True) for step in range(6)]
    assert decisions == [3, 0, 7, 0, 0, 0]


# -- inside a controlled run --------------------------------------------------------------


def blocks(log: list[str]) -> list[str]:
    """Consecutive runs of one thread in the log, by name."""
    runs: list[str] = []
    for name in log:
        if not runs or runs[-1] != name:
            runs.append(name)
    return runs


def worker(name: str, log: list[str]) -> Callable[[], None]:
    def body() -> None:
        for _ in range(40):
            point("step", name)
            log.append(name)

    return body


def run_workers(run_threads, strategy: Strategy) -> tuple[list[str], ControlledScheduler]:
    log: list[str] = []
    scheduler = ControlledScheduler(strategy)
    run_threads(scheduler, {name: worker(name, log) for name in ("a", "b", "c")})
    return log, scheduler


def test_random_with_switch_probability_zero_runs_threads_one_after_another(run_threads) -> None:
    log, scheduler = run_workers(run_threads, RandomStrategy(5, switch_probability=0.0))
    assert scheduler.preemptions == 0
    assert sorted(blocks(log)) == ["a", "b", "c"]


def test_pct_depth_one_run_has_no_preemptions_and_follows_priorities(run_threads) -> None:
    orders = set()
    for seed in range(6):
        log, scheduler = run_workers(run_threads, PCTStrategy(seed, depth=1, horizon=200))
        assert scheduler.preemptions == 0
        assert sorted(blocks(log)) == ["a", "b", "c"]
        again, _ = run_workers(run_threads, PCTStrategy(seed, depth=1, horizon=200))
        assert again == log
        orders.add(tuple(blocks(log)))
    assert len(orders) > 1, "different seeds give different priority orders"


def test_pct_run_preempts_at_most_depth_minus_one_times_without_blocking(run_threads) -> None:
    for seed in range(6):
        _, scheduler = run_workers(run_threads, PCTStrategy(seed, depth=3, horizon=120))
        assert scheduler.preemptions <= 2


def test_random_run_is_deterministic_per_seed(run_threads) -> None:
    first, one = run_workers(run_threads, RandomStrategy(9, switch_probability=0.3))
    second, two = run_workers(run_threads, RandomStrategy(9, switch_probability=0.3))
    assert first == second
    assert one.tape == two.tape and one.events == two.events
    assert one.preemptions > 0


def test_strategies_need_no_cpu_affinity_support(run_threads, monkeypatch) -> None:
    """Pinning is an optimisation: without sched_setaffinity a run is the same."""
    pinned, _ = run_workers(run_threads, RandomStrategy(9, switch_probability=0.3))
    monkeypatch.delattr(os, "sched_setaffinity", raising=False)
    unpinned, _ = run_workers(run_threads, RandomStrategy(9, switch_probability=0.3))
    assert pinned == unpinned


def test_no_preemption_keeps_the_current_thread_and_otherwise_takes_the_first_runnable() -> None:
    asked = questions(200)
    assert answers(NoPreemptionStrategy(), asked) == [0] * len(asked)


def test_no_preemption_run_never_preempts_and_is_the_same_every_time(run_threads) -> None:
    log, scheduler = run_workers(run_threads, NoPreemptionStrategy())
    assert scheduler.preemptions == 0
    assert sorted(blocks(log)) == ["a", "b", "c"]
    again, second = run_workers(run_threads, NoPreemptionStrategy())
    assert again == log and second.steps == scheduler.steps
