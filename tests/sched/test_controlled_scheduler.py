"""ControlledScheduler with hand-written threads (docs/design.md, 'Scheduling').

Real OS threads, one at a time: a thread runs from one scheduling point to
the next without any other registered thread running, and the decision tape
alone decides who runs at each point.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence

import pytest

from testbed.sched import (
    Barrier,
    Condition,
    ControlledScheduler,
    Deadlock,
    Event,
    Lock,
    RandomStrategy,
    ReplayStrategy,
    StepLimit,
    Strategy,
    point,
)

Log = list[tuple[str, str, int]]


def bracketing(name: str, log: Log, rounds: int) -> Callable[[], None]:
    """A thread that passes a point, then appends "enter" and "exit" around a GIL release."""

    def body() -> None:
        for i in range(rounds):
            point("step", name)
            log.append((name, "enter", i))
            os.sched_yield()  # releases the GIL: a free thread would slip in here
            log.append((name, "exit", i))

    return body


def three_threads(log: Log, rounds: int = 30) -> dict[str, Callable[[], None]]:
    return {name: bracketing(name, log, rounds) for name in ("a", "b", "c")}


def owners(log: Log) -> list[str]:
    """The thread of each "enter" record, in order: the interleaving."""
    return [name for name, what, _ in log if what == "enter"]


def run_with_tape(run_threads: Callable[..., object], tape: Sequence[int], rounds: int = 30) -> tuple[Log, object]:
    log: Log = []
    scheduler = ControlledScheduler(ReplayStrategy(tape))
    run_threads(scheduler, three_threads(log, rounds))
    return log, scheduler


def test_exactly_one_registered_thread_runs_between_points(run_threads, never_interleaved) -> None:
    log: Log = []
    scheduler = ControlledScheduler(RandomStrategy(11, switch_probability=0.5))
    run_threads(scheduler, three_threads(log, rounds=40))
    never_interleaved(log)
    assert len(log) == 3 * 40 * 2
    assert scheduler.preemptions > 20, "the strategy should have switched threads often"
    # Every change of thread in the log is a switch the scheduler recorded.
    changes = sum(1 for x, y in zip(owners(log), owners(log)[1:], strict=False) if x != y)
    switches = sum(1 for e in scheduler.events if e[1] == "switch")
    assert 0 < changes <= switches


def test_same_replay_tape_gives_same_interleaving_and_events(run_threads, never_interleaved) -> None:
    tape = [random.Random(5).randrange(4) for _ in range(150)]
    log1, first = run_with_tape(run_threads, tape)
    log2, second = run_with_tape(run_threads, tape)
    never_interleaved(log1)
    assert log1 == log2
    assert first.events == second.events
    assert first.tape == second.tape
    assert first.preemptions == second.preemptions > 0


def test_recorded_random_tape_replays_to_the_same_interleaving(run_threads) -> None:
    log1: Log = []
    recorded = ControlledScheduler(RandomStrategy(3, switch_probability=0.3))
    run_threads(recorded, three_threads(log1))
    log2, replayed = run_with_tape(run_threads, recorded.tape)
    assert log1 == log2
    assert recorded.events == replayed.events
    assert replayed.tape == recorded.tape


def test_decisions_are_taken_modulo_the_number_of_runnable_threads(run_threads) -> None:
    huge = [10**18 + k for k in range(12)]
    log1, scheduler = run_with_tape(run_threads, huge)
    # All three threads are runnable for the first dozen decisions (each has 30 points to go).
    assert scheduler.tape[:12] == [d % 3 for d in huge]
    # The recorded (reduced) tape is the same schedule as the huge one.
    log2, _ = run_with_tape(run_threads, scheduler.tape)
    assert log1 == log2


@pytest.mark.parametrize(
    "tape",
    [[], [0], [2**63] * 40, [7, 1, 0, 3, 99, 5] * 10, list(range(200))],
    ids=["empty", "zero", "huge", "mixed", "counting"],
)
def test_any_tape_of_non_negative_ints_is_a_valid_schedule(run_threads, never_interleaved, tape) -> None:
    log, scheduler = run_with_tape(run_threads, tape)
    never_interleaved(log)
    assert sorted(owners(log)) == sorted(["a", "b", "c"] * 30)
    assert all(0 <= d < 3 for d in scheduler.tape)


def test_past_the_tape_end_the_current_thread_keeps_running(run_threads) -> None:
    log, scheduler = run_with_tape(run_threads, [], rounds=5)
    # No decisions left: each thread runs to its end; the next one is runnable[0].
    assert owners(log) == ["a"] * 5 + ["b"] * 5 + ["c"] * 5
    assert scheduler.preemptions == 0


def test_one_preemption_on_the_tape_gives_exactly_one_preemption(run_threads) -> None:
    # launch -> a; a's first three points keep a; the fourth switches to the next thread (b).
    log, scheduler = run_with_tape(run_threads, [0, 0, 0, 0, 1], rounds=5)
    assert scheduler.preemptions == 1
    assert owners(log) == ["a"] * 3 + ["b"] * 5 + ["a"] * 2 + ["c"] * 5


def test_decisions_are_relative_to_the_current_thread(run_threads) -> None:
    # launch: index 1 of [a, b, c] -> b; b's first point: +1 -> c; c's first point: +2 wraps -> b.
    log, scheduler = run_with_tape(run_threads, [1, 1, 2], rounds=3)
    assert owners(log) == ["b"] * 3 + ["a"] * 3 + ["c"] * 3
    assert scheduler.preemptions == 2


def test_a_woken_thread_rejoins_the_runnable_threads_in_registration_order(run_threads) -> None:
    ready = Event("ready")
    log: list[str] = []

    def a() -> None:
        ready.wait()
        log.append("a woke")
        for i in range(3):
            point("step")
            log.append(f"a{i}")

    def b() -> None:
        point("step")
        ready.set()  # a is runnable again: the runnable threads are [a, b, c] once more
        for i in range(3):
            point("step")
            log.append(f"b{i}")

    def c() -> None:
        for i in range(3):
            point("step")
            log.append(f"c{i}")

    # launch a; a's event-wait point keeps a, which blocks; of [b, c] run b; b's first
    # point and its event-set point keep b; then, of [a, b, c], +2 from b wraps to a
    # and +1 from a goes back to b.
    tape = [0, 0, 0, 0, 0, 2, 1]
    scheduler = ControlledScheduler(ReplayStrategy(tape))
    run_threads(scheduler, {"a": a, "b": b, "c": c})
    assert log == ["a woke", "b0", "b1", "b2", "a0", "a1", "a2", "c0", "c1", "c2"]
    assert scheduler.tape[: len(tape)] == tape
    assert scheduler.preemptions == 2


class Recording(Strategy):
    """Replays zeros and records what each decision was asked about."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[int, tuple[int, ...], int, bool]] = []

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        self.calls.append((step, tuple(runnable), current, current_runnable))
        return 0


def test_a_decision_is_consumed_only_where_two_or_more_threads_are_runnable(run_threads) -> None:
    strategy = Recording()
    scheduler = ControlledScheduler(strategy)
    ready = Event("ready")
    seen: list[str] = []

    def waiter() -> None:
        ready.wait()
        seen.append("waiter woke")

    def worker() -> None:
        for _ in range(10):
            point("work")
        ready.set()

    run_threads(scheduler, {"waiter": waiter, "worker": worker})
    assert seen == ["waiter woke"]
    assert all(len(runnable) >= 2 for _, runnable, _, _ in strategy.calls)
    # Two choices: launch and the waiter's event-wait point.  Once the waiter blocks,
    # the worker's ten work points, its event-set point and both thread ends have
    # a single runnable thread and consume nothing.
    assert len(strategy.calls) == len(scheduler.tape) == 2
    assert scheduler.steps == 1 + 10 + 1


def test_a_single_thread_consumes_no_decisions(run_threads) -> None:
    log: Log = []
    scheduler = ControlledScheduler(Recording())
    run_threads(scheduler, {"solo": bracketing("solo", log, 25)})
    assert scheduler.tape == []
    assert scheduler.steps == 25


def test_controlled_run_restores_the_cpu_affinity(run_threads) -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    before = os.sched_getaffinity(0)
    pinned: list[set[int]] = []
    scheduler = ControlledScheduler(ReplayStrategy([]))
    run_threads(scheduler, {"probe": lambda: pinned.append(os.sched_getaffinity(0))})
    assert len(pinned[0]) == 1, "a controlled run pins the process to one CPU"
    assert os.sched_getaffinity(0) == before


# -- deadlocks and livelocks --------------------------------------------------------------


def opposite_order_threads(first: Lock, second: Lock) -> dict[str, Callable[[], None]]:
    def left() -> None:
        with first:
            point("between", "left")
            with second:
                pass

    def right() -> None:
        with second:
            point("between", "right")
            with first:
                pass

    return {"left": left, "right": right}


#: launch left; left takes lock-a, switches at "between"; right takes lock-b, switches back
BAD_INTERLEAVING = [0, 0, 1, 0, 1]


def test_opposite_lock_orders_deadlock_is_raised_in_the_blocked_threads(run_threads) -> None:
    lock_a, lock_b = Lock("lock-a"), Lock("lock-b")
    scheduler = ControlledScheduler(ReplayStrategy(BAD_INTERLEAVING))
    started = time.monotonic()
    errors = run_threads(scheduler, opposite_order_threads(lock_a, lock_b), expect_errors=True)
    elapsed = time.monotonic() - started
    assert set(errors) == {"left", "right"}
    for error in errors.values():
        assert isinstance(error, Deadlock)

        message = str(error)
        assert message.startswith("deadlock")
        for name in ("left", "right", "lock-a", "lock-b"):
            assert name in message, f"{name!r} not in {message!r}"
        assert {"left", "right"} <= set(error.stacks)
    assert "left waits for lock 'lock-b' held by right" in str(errors["left"])
    assert "right waits for lock 'lock-a' held by left" in str(errors["left"])
    assert [e for e in scheduler.events if e[1] == "deadlock"], scheduler.events
    assert not lock_a.locked() and not lock_b.locked(), "the unwinding threads released their locks"
    assert elapsed < 2.0, f"the deadlock was found by a timeout ({elapsed:.2f}s), not by the scheduler"


def test_opposite_lock_orders_without_preemption_do_not_deadlock(run_threads) -> None:
    scheduler = ControlledScheduler(ReplayStrategy([]))
    run_threads(scheduler, opposite_order_threads(Lock("lock-a"), Lock("lock-b")))
    assert not [e for e in scheduler.events if e[1] == "deadlock"]


def test_the_same_deadlocking_tape_deadlocks_every_time(run_threads) -> None:
    reports = []
    for _ in range(3):
        scheduler = ControlledScheduler(ReplayStrategy(BAD_INTERLEAVING))
        errors = run_threads(scheduler, opposite_order_threads(Lock("lock-a"), Lock("lock-b")), expect_errors=True)
        reports.append((sorted(errors), str(errors["left"]), scheduler.events))
    assert reports[0] == reports[1] == reports[2]


def test_condition_nobody_notifies_is_a_deadlock_naming_the_condition(run_threads) -> None:
    lock = Lock("state")
    never = Condition(lock, "never-notified")
    bystander_steps: list[int] = []

    def waiter() -> None:
        with lock:
            never.wait_for(lambda: False)

    def bystander() -> None:
        for i in range(5):
            point("work")
            bystander_steps.append(i)

    scheduler = ControlledScheduler(RandomStrategy(1, switch_probability=0.5))
    started = time.monotonic()
    errors = run_threads(scheduler, {"waiter": waiter, "bystander": bystander}, expect_errors=True)
    assert set(errors) == {"waiter"}, errors
    error = errors["waiter"]
    assert isinstance(error, Deadlock)
    assert "waiter waits for condition 'never-notified'" in str(error)
    assert "waiter" in error.stacks
    assert bystander_steps == [0, 1, 2, 3, 4]
    assert not lock.locked()
    assert time.monotonic() - started < 2.0


def test_event_nobody_sets_is_a_deadlock_naming_the_event(run_threads) -> None:
    never = Event("never-set")
    scheduler = ControlledScheduler(ReplayStrategy([]))
    errors = run_threads(scheduler, {"a": never.wait, "b": never.wait}, expect_errors=True)
    assert set(errors) == {"a", "b"}
    assert all(isinstance(e, Deadlock) for e in errors.values())
    assert "a waits for event 'never-set'; b waits for event 'never-set'" in str(errors["a"])


def test_barrier_missing_a_party_is_a_deadlock_naming_the_barrier(run_threads) -> None:
    barrier = Barrier(3, "phase")
    scheduler = ControlledScheduler(RandomStrategy(4, switch_probability=0.5))
    errors = run_threads(scheduler, {"p0": barrier.wait, "p1": barrier.wait}, expect_errors=True)
    assert set(errors) == {"p0", "p1"}
    assert all(isinstance(e, Deadlock) for e in errors.values())
    assert "barrier 'phase' (2/3 arrived)" in str(errors["p0"])


def test_thread_looping_over_points_forever_hits_the_step_limit(run_threads) -> None:
    finite: list[int] = []

    def spinner() -> None:
        while True:
            point("spin")

    def finisher() -> None:
        for i in range(10):
            point("work")
            finite.append(i)

    scheduler = ControlledScheduler(RandomStrategy(2), max_steps=1000)
    errors = run_threads(scheduler, {"spinner": spinner, "finisher": finisher}, expect_errors=True)
    assert set(errors) == {"spinner"}, errors
    error = errors["spinner"]
    assert isinstance(error, StepLimit)
    assert str(error) == "livelock: no end after 1000 scheduling points"
    assert finite == list(range(10))
    assert scheduler.steps == 1001
