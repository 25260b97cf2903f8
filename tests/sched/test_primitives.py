"""Lock, Condition, Event and Barrier in both modes (docs/design.md, 'Scheduling'; Barrier's reset/abort: test_dropins.py).

Controlled mode: a wait never sleeps, the thread is simply not runnable
until woken.  The random strategy with a fixed seed makes each of these runs
one fixed schedule, so a test over a handful of seeds is a handful of exact
interleavings, the same every time.

Free mode: real threads under a FreeScheduler; a wait that outlives its
timeout raises WaitTimeout naming what it waited for.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from testbed.sched import (
    Barrier,
    Condition,
    ControlledScheduler,
    Event,
    FreeScheduler,
    Lock,
    RandomStrategy,
    ReplayStrategy,
    WaitTimeout,
    point,
    running,
)

SEEDS = range(8)

#: free-mode waits that must time out: short, so the suite stays fast
SHORT = 0.05
#: free-mode waits that must not time out
LONG = 5.0


def controlled(seed: int) -> ControlledScheduler:
    return ControlledScheduler(RandomStrategy(seed, switch_probability=0.5))


def free(seed: int = 0, wait_timeout: float = LONG) -> FreeScheduler:
    return FreeScheduler(seed, yield_probability=0.5, wait_timeout=wait_timeout)


def scheduler_for(mode: str, seed: int) -> ControlledScheduler | FreeScheduler:
    return controlled(seed) if mode == "controlled" else free(seed)


# -- both modes ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS[:4])
@pytest.mark.parametrize("mode", ["controlled", "free"])
def test_lock_gives_mutual_exclusion(run_threads, mode: str, seed: int) -> None:
    lock = Lock("counter")
    counter = [0]
    inside: list[str] = []
    overlaps: list[tuple[str, list[str]]] = []

    def body(name: str) -> None:
        for _ in range(25):
            with lock:
                if inside:
                    overlaps.append((name, list(inside)))
                inside.append(name)
                value = counter[0]
                point("critical", name)
                counter[0] = value + 1
                inside.remove(name)

    scheduler = scheduler_for(mode, seed)
    run_threads(scheduler, {n: (lambda n=n: body(n)) for n in ("t0", "t1", "t2")})
    assert overlaps == []
    assert counter[0] == 75
    assert not lock.locked()
    if mode == "controlled":
        assert any(e[1] == "block" and "lock 'counter'" in e[3] for e in scheduler.events), (
            "the schedule should have made a thread wait for the lock"
        )


@pytest.mark.parametrize("mode", ["controlled", "free"])
def test_notify_all_wakes_waiters_which_recheck_their_predicate(run_threads, mode: str) -> None:
    most_checks = 0
    for seed in SEEDS if mode == "controlled" else SEEDS[:2]:
        lock = Lock("state")
        changed = Condition(lock, "changed")
        state = {"x": 0}
        returned: dict[str, tuple[int, int, bool]] = {}

        def waiter(name: str, threshold: int, lock=lock, changed=changed, state=state, returned=returned) -> None:
            checks = [0]

            def reached() -> bool:
                checks[0] += 1
                return state["x"] >= threshold

            with lock:
                ok = changed.wait_for(reached, timeout=LONG)
                returned[name] = (state["x"], checks[0], ok)

        def setter(lock=lock, changed=changed, state=state) -> None:
            for value in (1, 2, 3):
                with lock:
                    state["x"] = value
                    changed.notify_all()
                point("between-notifies")

        bodies = {f"w{k}": (lambda k=k: waiter(f"w{k}", k)) for k in (1, 2, 3)}
        bodies["setter"] = setter
        run_threads(scheduler_for(mode, seed), bodies)
        for k in (1, 2, 3):
            seen, _, ok = returned[f"w{k}"]
            assert ok is True
            assert seen >= k, f"seed {seed}: w{k} returned at x={seen}"
        most_checks = max(most_checks, *(checks for _, checks, _ in returned.values()))
    if mode == "controlled":
        # Some waiter was woken while its predicate was still false, checked it,
        # and waited again: three or more evaluations.
        assert most_checks >= 3


@pytest.mark.parametrize("mode", ["controlled", "free"])
def test_abandon_predicate_makes_wait_for_return_false(run_threads, mode: str) -> None:
    for seed in SEEDS[:4]:
        lock = Lock("state")
        changed = Condition(lock, "changed")
        cancelled = [False]
        outcome: list[tuple[bool, bool]] = []

        def waiter(lock=lock, changed=changed, cancelled=cancelled, outcome=outcome) -> None:
            with lock:
                ok = changed.wait_for(lambda: False, timeout=LONG, abandon=lambda: cancelled[0])
                outcome.append((ok, lock.locked()))

        def canceller(lock=lock, changed=changed, cancelled=cancelled) -> None:
            point("work")
            with lock:
                cancelled[0] = True
                changed.notify_all()

        run_threads(scheduler_for(mode, seed), {"waiter": waiter, "canceller": canceller})
        assert outcome == [(False, True)], f"seed {seed}: wait_for returns False, with the lock held"
        assert not lock.locked()


@pytest.mark.parametrize("mode", ["controlled", "free"])
def test_wait_for_returns_at_once_when_abandoned_before_waiting(run_threads, mode: str) -> None:
    lock = Lock("state")
    changed = Condition(lock, "changed")
    outcome: list[bool] = []

    def waiter() -> None:
        with lock:
            outcome.append(changed.wait_for(lambda: False, timeout=LONG, abandon=lambda: True))

    run_threads(scheduler_for(mode, 0), {"waiter": waiter})
    assert outcome == [False]


@pytest.mark.parametrize("mode", ["controlled", "free"])
def test_event_wait_blocks_until_set(run_threads, mode: str) -> None:
    for seed in SEEDS if mode == "controlled" else SEEDS[:2]:
        ready = Event("ready")
        log: list[str] = []

        def waiter(name: str, ready=ready, log=log) -> None:
            ready.wait(timeout=LONG)
            log.append(f"{name} saw set={ready.is_set()}")

        def setter(ready=ready, log=log) -> None:
            for _ in range(5):
                point("work")
            log.append("set")
            ready.set()

        bodies = {"w1": lambda: waiter("w1"), "w2": lambda: waiter("w2"), "setter": setter}
        run_threads(scheduler_for(mode, seed), bodies)
        assert log[0] == "set", f"seed {seed}: {log}"
        assert sorted(log[1:]) == ["w1 saw set=True", "w2 saw set=True"]


@pytest.mark.parametrize("mode", ["controlled", "free"])
def test_barrier_releases_all_parties_together_and_is_reusable(run_threads, mode: str) -> None:
    for seed in SEEDS[:4]:
        barrier = Barrier(3, "phase")
        log: list[tuple[str, str, int]] = []
        arrivals: dict[int, list[int]] = {0: [], 1: []}

        def body(name: str, barrier=barrier, log=log, arrivals=arrivals) -> None:
            for rnd in (0, 1):
                log.append((name, "before", rnd))
                point("work")
                arrivals[rnd].append(barrier.wait(timeout=LONG))
                log.append((name, "after", rnd))

        run_threads(scheduler_for(mode, seed), {n: (lambda n=n: body(n)) for n in ("p0", "p1", "p2")})
        for rnd in (0, 1):
            befores = [i for i, (_, what, r) in enumerate(log) if what == "before" and r == rnd]
            afters = [i for i, (_, what, r) in enumerate(log) if what == "after" and r == rnd]
            assert len(befores) == len(afters) == 3
            assert max(befores) < min(afters), f"seed {seed}, round {rnd}: {log}"
            assert sorted(arrivals[rnd]) == [0, 1, 2]


def test_controlled_waits_take_no_wall_clock_time(run_threads) -> None:
    """Waiting threads are not runnable; nothing sleeps, whatever the timeouts."""
    ready = Event("ready")

    def waiter() -> None:
        ready.wait(timeout=60.0)

    def setter() -> None:
        for _ in range(200):
            point("work")
        ready.set()

    started = time.monotonic()
    run_threads(ControlledScheduler(ReplayStrategy([])), {"waiter": waiter, "setter": setter})
    assert time.monotonic() - started < 1.0


# -- free mode: spinning before sleeping ------------------------------------------------


def _contend_for_a_lock_let_go_after_the_first_spin(run_threads, monkeypatch, spins: int) -> tuple[int, list[str]]:
    """A holder keeps ``lock 'spun'`` until the contender has looked again once, or has gone to sleep.

    Returns how often the contender yielded the core while spinning and the
    locks it parked on.
    """
    scheduler = free()
    scheduler.spins = spins
    yields = [0]
    real_yield = os.sched_yield

    def counting_yield() -> None:
        yields[0] += 1
        real_yield()

    monkeypatch.setattr(os, "sched_yield", counting_yield)
    parked: list[str] = []
    real_park = scheduler.park

    def park(lot, *args, **kwargs):  # type: ignore[no-untyped-def]
        if lot.name == "spun":
            parked.append(lot.name)
        return real_park(lot, *args, **kwargs)

    scheduler.park = park  # type: ignore[method-assign]
    lock = Lock("spun")
    held = threading.Event()

    def holder() -> None:
        with lock:
            held.set()
            deadline = time.monotonic() + LONG
            while not (yields[0] or parked) and time.monotonic() < deadline:
                time.sleep(0)

    def contender() -> None:
        held.wait(LONG)
        with lock:
            pass

    run_threads(scheduler, {"holder": holder, "contender": contender})
    return yields[0], parked


def test_free_acquire_of_a_lock_let_go_while_it_spins_takes_it_without_sleeping(run_threads, monkeypatch) -> None:
    yields, parked = _contend_for_a_lock_let_go_after_the_first_spin(run_threads, monkeypatch, spins=1_000_000)
    assert yields >= 1
    assert parked == []


def test_free_acquire_without_spins_sleeps_at_once(run_threads, monkeypatch) -> None:
    yields, parked = _contend_for_a_lock_let_go_after_the_first_spin(run_threads, monkeypatch, spins=0)
    assert yields == 0
    assert parked == ["spun"]


def test_only_free_mode_without_the_gil_spins() -> None:
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    assert FreeScheduler(0).spins == (0 if gil or not hasattr(os, "sched_yield") else 64)
    assert controlled(0).spins == 0


# -- free mode: timeouts ------------------------------------------------------------------


def test_free_lock_acquire_times_out_with_wait_timeout(run_threads) -> None:
    lock = Lock("contended")
    held, done = Event("held"), Event("done")
    caught: list[WaitTimeout] = []

    def holder() -> None:
        with lock:
            held.set()
            done.wait(timeout=LONG)

    def contender() -> None:
        held.wait(timeout=LONG)
        try:
            lock.acquire(timeout=SHORT)
        except WaitTimeout as error:
            caught.append(error)
        finally:
            done.set()

    run_threads(free(), {"holder": holder, "contender": contender})
    assert len(caught) == 1
    error = caught[0]
    assert error.what == "lock 'contended' held by holder"
    assert error.timeout == SHORT
    assert str(error) == "waited 0.05s for lock 'contended' held by holder (no thread made progress meanwhile)"
    assert {"holder", "contender"} <= set(error.stacks)
    assert not lock.locked()


def test_free_condition_wait_times_out_naming_the_condition(run_threads) -> None:
    lock = Lock("state")
    never = Condition(lock, "never-notified")
    caught: list[WaitTimeout] = []

    def waiter() -> None:
        with lock:
            try:
                never.wait_for(lambda: False, timeout=SHORT)
            except WaitTimeout as error:
                caught.append(error)

    run_threads(free(), {"waiter": waiter})
    assert [e.what for e in caught] == ["condition 'never-notified'"]
    assert "waiter" in caught[0].stacks
    assert not lock.locked()


def test_free_event_wait_times_out_naming_the_event(run_threads) -> None:
    never = Event("never-set")
    errors = run_threads(free(), {"waiter": lambda: never.wait(timeout=SHORT)}, expect_errors=True)
    error = errors["waiter"]
    assert isinstance(error, WaitTimeout)
    assert error.what == "event 'never-set'"


def test_free_barrier_missing_a_party_times_out_naming_the_barrier_and_breaks_it(run_threads) -> None:
    # As a timed-out threading.Barrier wait breaks the barrier: the first party out of
    # patience gets WaitTimeout, a party still waiting then gets BrokenBarrierError
    # (or runs out of patience itself while the first one collects the stacks).
    barrier = Barrier(3, name="phase")
    errors = run_threads(
        free(), {"p0": lambda: barrier.wait(timeout=SHORT), "p1": lambda: barrier.wait(timeout=SHORT)}, True
    )
    assert set(errors) == {"p0", "p1"}
    timeouts = [e for e in errors.values() if isinstance(e, WaitTimeout)]
    assert timeouts and all(e.what.startswith("barrier 'phase' (") for e in timeouts)
    assert all(isinstance(e, WaitTimeout | threading.BrokenBarrierError) for e in errors.values())
    assert barrier.broken


def test_free_waits_default_to_the_schedulers_wait_timeout(run_threads) -> None:
    never = Event("never-set")
    started = time.monotonic()
    errors = run_threads(free(wait_timeout=SHORT), {"waiter": never.wait}, expect_errors=True)
    assert isinstance(errors["waiter"], WaitTimeout)
    assert errors["waiter"].timeout == SHORT
    assert time.monotonic() - started < LONG


# -- a controlled run with an unregistered thread -----------------------------------------


def test_lock_held_by_a_controlled_thread_excludes_an_unregistered_thread() -> None:
    # One ownership record (Lock._owner, claimed under the lot's guard) for every
    # thread: the main thread, which the scheduler does not steer, parks the free
    # way against the same record and times out; the holder's release frees it.
    lock = Lock("shared")
    held, checked = threading.Event(), threading.Event()
    outcome: list[str] = []

    def holder() -> None:
        with lock:
            held.set()
            checked.wait(LONG)

    scheduler = ControlledScheduler(ReplayStrategy([]))
    with running(scheduler):
        thread = scheduler.spawn("holder", holder)
        scheduler.launch()
        assert held.wait(LONG)
        try:
            lock.acquire(timeout=SHORT)  # the main thread is not one the scheduler steers
            outcome.append("acquired a held lock")
            lock.release()
        except WaitTimeout:
            outcome.append("timed out")
        finally:
            checked.set()
            thread.join(LONG)
    assert not thread.is_alive()
    assert outcome == ["timed out"]
    assert not lock.locked()
