"""Free-mode liveness without false alarms; scheduler hygiene (issue 8, items 5 and 6).

A free-mode wait past its timeout fails only when no thread passed a
scheduling point for a whole timeout, or at the hard cap (``timeout_cap``
timeouts) however much the others progress.  Idle waits (``math.inf``)
never fail and let a halt through.  ``abandon()`` can be called while
threads hand the turn over.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

from testbed.sched import (
    Condition,
    ControlledScheduler,
    Deadlock,
    Event,
    FreeScheduler,
    Halt,
    Lock,
    RandomStrategy,
    Strategy,
    WaitTimeout,
    point,
    running,
)

#: the wait timeout of these tests: short, so the suite stays fast
TIMEOUT = 0.2


def free(timeout: float = TIMEOUT, cap: float = 20.0) -> FreeScheduler:
    return FreeScheduler(0, yield_probability=0.0, wait_timeout=timeout, timeout_cap=cap)


def progress_for(seconds: float, stop: threading.Event | None = None) -> None:
    """Pass a scheduling point every few milliseconds for ``seconds`` (or until ``stop``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        point("work")
        time.sleep(0.005)


def test_a_wait_past_its_timeout_goes_on_while_other_threads_progress(run_threads) -> None:
    ready = Event("ready")
    waited: list[float] = []

    def waiter() -> None:
        started = time.monotonic()
        ready.wait()
        waited.append(time.monotonic() - started)

    def worker() -> None:
        progress_for(5 * TIMEOUT)  # slow, not stuck: five timeouts of steady progress
        ready.set()

    run_threads(free(), {"waiter": waiter, "worker": worker})
    assert waited and waited[0] >= 4 * TIMEOUT


def test_a_wait_fails_one_timeout_after_progress_stops_with_every_stack(run_threads) -> None:
    never = Event("never-set")

    def worker() -> None:
        progress_for(4 * TIMEOUT)  # then ends without setting the event

    started = time.monotonic()
    errors = run_threads(free(), {"waiter": never.wait, "worker": worker}, expect_errors=True)
    elapsed = time.monotonic() - started
    error = errors["waiter"]
    assert isinstance(error, WaitTimeout)
    assert "hard cap" not in error.reason
    assert "without progress" in error.reason
    assert 5 * TIMEOUT - 0.1 <= error.waited <= 5 * TIMEOUT + 1.0
    assert elapsed < 20 * TIMEOUT, "failed by the hard cap, not by the quiet timeout"
    assert "waiter" in error.stacks


def test_a_wait_whose_threads_progress_forever_fails_at_the_hard_cap(run_threads) -> None:
    never = Event("never-set")
    stop = threading.Event()
    errors: dict[str, BaseException] = {}

    def waiter() -> None:
        try:
            never.wait()
        finally:
            stop.set()

    def spinner() -> None:  # a livelock: progress that never satisfies the wait
        progress_for(60.0, stop)

    errors = run_threads(free(cap=4.0), {"waiter": waiter, "spinner": spinner}, expect_errors=True)
    error = errors["waiter"]
    assert isinstance(error, WaitTimeout)
    assert "hard cap of 0.8s" in error.reason
    # Wall-clock: a loaded 2-core machine can be late by seconds, never early.
    assert 4 * TIMEOUT <= error.waited < 4 * TIMEOUT + 3.0
    assert str(error).startswith("waited 0.") and "for event 'never-set'" in str(error)


def test_opposite_lock_orders_deadlock_in_free_mode_is_reported_with_both_stacks(run_threads) -> None:
    lock_a, lock_b = Lock("lock-a"), Lock("lock-b")
    both_hold_one = threading.Barrier(2)

    def take(first: Lock, second: Lock) -> None:
        with first:
            both_hold_one.wait(5.0)
            with second:
                pass

    started = time.monotonic()
    errors = run_threads(
        free(), {"t0": lambda: take(lock_a, lock_b), "t1": lambda: take(lock_b, lock_a)}, expect_errors=True
    )
    assert time.monotonic() - started < 10 * TIMEOUT
    # The first to give up releases its lock, so the other may then finish.
    assert errors and all(isinstance(e, WaitTimeout) for e in errors.values())
    error = next(iter(errors.values()))
    assert "held by t" in error.what
    assert {"t0", "t1"} <= set(error.stacks)
    assert not lock_a.locked() and not lock_b.locked()


def test_an_idle_wait_never_times_out(run_threads) -> None:
    lock = Lock("pool")
    job = Condition(lock, "pool")
    posted = [False]
    outcome: list[bool] = []

    def idler() -> None:
        with lock:
            outcome.append(job.wait_for(lambda: posted[0], timeout=math.inf))

    def poster() -> None:
        time.sleep(4 * TIMEOUT)  # no points at all: a plain wait would have failed
        with lock:
            posted[0] = True
            job.notify_all()

    run_threads(free(cap=2.0), {"idler": idler, "poster": poster})
    assert outcome == [True]


def test_an_idle_wait_lets_a_deadlock_through_and_no_exception_handler_swallows_it(run_threads) -> None:
    lock = Lock("pool")
    job = Condition(lock, "pool")
    caught: list[str] = []

    def idler() -> None:
        with lock:
            try:
                job.wait_for(lambda: False, timeout=math.inf)
            except (Exception, WaitTimeout):  # what a careless idle loop would catch
                caught.append("swallowed")

    errors = run_threads(ControlledScheduler(RandomStrategy(0)), {"idler": idler}, expect_errors=True)
    assert caught == []
    assert isinstance(errors["idler"], Deadlock)
    assert isinstance(errors["idler"], Halt) and not isinstance(errors["idler"], Exception)
    assert "idler waits for condition 'pool'" in str(errors["idler"])


def test_abandon_while_threads_hand_the_turn_over_leaves_none_stuck() -> None:
    # Every point switches (switch_probability 1), so abandon() lands in the
    # middle of handoffs: a baton released twice (RuntimeError) or one left
    # locked (a thread stuck for good) would show here.
    for attempt in range(12):
        lock = Lock("shared")
        counter = [0]
        errors: list[BaseException] = []

        def body(lock: Lock = lock, counter: list[int] = counter, errors: list[BaseException] = errors) -> None:
            try:
                for _ in range(3000):
                    with lock:
                        point("inside")
                        counter[0] += 1
            except BaseException as error:
                errors.append(error)

        scheduler = ControlledScheduler(RandomStrategy(attempt, switch_probability=1.0), pin_cpu=False)
        with running(scheduler):
            threads = [scheduler.spawn(f"t{i}", body) for i in range(3)]
            scheduler.launch()
            time.sleep(0.001 * attempt)
            scheduler.abandon()
            scheduler.abandon()  # idempotent
            for thread in threads:
                thread.join(10.0)
        assert not any(t.is_alive() for t in threads), f"attempt {attempt}: a thread is stuck after abandon"
        assert errors == [], f"attempt {attempt}: {errors!r}"
        assert counter[0] == 9000 and not lock.locked()


class AbandonMidHandoff(Strategy):
    """Switches at every point; at step ``at`` abandons control while deciding.

    ``decide`` runs inside a point, after its "abandoned?" check and before
    the handoff: exactly where a main thread's ``abandon()`` can land.
    """

    def __init__(self, at: int) -> None:
        self.at = at
        self.scheduler: ControlledScheduler | None = None

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        if step == self.at and self.scheduler is not None:
            self.scheduler.abandon()
        return 1


def test_abandon_landing_between_a_points_check_and_its_handoff_is_harmless() -> None:
    # Before abandon() and every grant shared one lock, the handoff here
    # released a baton abandon() had already released: RuntimeError.
    for at in (5, 6, 7, 50):
        strategy = AbandonMidHandoff(at)
        scheduler = ControlledScheduler(strategy, pin_cpu=False)
        strategy.scheduler = scheduler
        errors: list[BaseException] = []
        done: list[str] = []

        def body(name: str, errors: list[BaseException] = errors, done: list[str] = done) -> None:
            try:
                for _ in range(100):
                    point("work")
                done.append(name)
            except BaseException as error:
                errors.append(error)

        with running(scheduler):
            threads = [scheduler.spawn(f"t{i}", body, f"t{i}") for i in range(3)]
            scheduler.launch()
            for thread in threads:
                thread.join(10.0)
        assert not any(t.is_alive() for t in threads), f"abandon at step {at}: a thread is stuck"
        assert errors == [], f"abandon at step {at}: {errors!r}"
        assert sorted(done) == ["t0", "t1", "t2"]
