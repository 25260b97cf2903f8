"""safepoint-liveness in free mode is progress-aware and still catches real deadlocks.

docs/design.md, 'Scheduling': a free-mode wait past its timeout is a liveness
violation only when no thread made progress during it (load is not a
deadlock).  A real deadlock is reported in free mode (by the quiet timeout)
and in controlled mode (by the scheduler, at once), with every stack, and a
halt reaches idle collector threads without being swallowed.
"""

from __future__ import annotations

import threading
import time

import pytest

import testbed
from testbed.runtime import Config, Mutator
from testbed.sched import Barrier, Condition, Lock

TIMEOUT = 0.3


def model_threads_alive() -> list[str]:
    prefixes = ("mutator-", "scavenger-", "sweeper")
    return [t.name for t in threading.enumerate() if t.name.startswith(prefixes) and t.is_alive()]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("strategy", ["free", "random"])
def test_opposite_lock_orders_deadlock_is_reported_with_stacks_in_free_and_random_mode(strategy: str) -> None:
    lock_a, lock_b = Lock("lock-a"), Lock("lock-b")
    both_hold_one = Barrier(2, "both-hold-one")

    def program(m: Mutator) -> None:
        first, second = (lock_a, lock_b) if m.index == 0 else (lock_b, lock_a)
        with first:
            both_hold_one.wait()
            with second:
                pass

    config = Config(
        mutators=2,
        program=program,
        strategy=strategy,
        wait_timeout=TIMEOUT,
        scavenger_workers=2,
        mark_compact_every=1,
        concurrent_sweeping=True,
    )
    started = time.monotonic()
    result = testbed.run(config)
    assert time.monotonic() - started < 10 * TIMEOUT + 2.0
    assert [v.invariant for v in result.violations] == ["safepoint-liveness"]
    violation = result.violations[0]
    assert "lock 'lock-" in violation.message and "held by mutator-" in violation.message
    assert {"mutator-0", "mutator-1", "scavenger-0", "scavenger-1", "sweeper"} <= set(violation.stacks)
    for thread in ("mutator-0", "mutator-1"):
        assert any("program" in line for line in violation.stacks[thread]), violation.stacks[thread]
    deadline = time.monotonic() + 5.0
    for thread in [t for t in threading.enumerate() if t.name in model_threads_alive()]:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert model_threads_alive() == []


@pytest.mark.timeout(60)
def test_a_thread_stuck_while_the_others_progress_is_reported_once_they_stop() -> None:
    # The shape of a forgotten resume: mutator-0 waits for something nobody
    # will do, while the others keep working for several timeouts and then
    # end.  No report while they progress; one, about a timeout after.
    lock = Lock("resume")
    resumed = Condition(lock, "resume")
    ended: dict[str, float] = {}
    work = 4 * TIMEOUT

    def program(m: Mutator) -> None:
        if m.index == 0:
            with lock:
                resumed.wait_for(lambda: False, abandon=m.isolate.is_aborted)
            return
        deadline = time.monotonic() + work
        while time.monotonic() < deadline:
            m.poll()
            time.sleep(0.002)
        ended[m.name] = time.monotonic()

    started = time.monotonic()
    result = testbed.run(Config(mutators=3, program=program, wait_timeout=TIMEOUT, scavenger_workers=1))
    elapsed = time.monotonic() - started
    assert sorted(ended) == ["mutator-1", "mutator-2"], "the others were cut short"
    assert [v.invariant for v in result.violations] == ["safepoint-liveness"]
    violation = result.violations[0]
    assert violation.message.startswith("mutator-0 waited ")
    assert "condition 'resume'" in violation.message and "without progress" in violation.message
    assert any("wait_for" in line for line in violation.stacks["mutator-0"])
    assert work + TIMEOUT - 0.1 <= elapsed < work + 4 * TIMEOUT + 2.0


@pytest.mark.timeout(60)
def test_a_run_past_run_timeout_that_still_progresses_is_not_reported() -> None:
    def program(m: Mutator) -> None:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            m.poll()
            time.sleep(0.002)

    result = testbed.run(Config(mutators=2, program=program, run_timeout=0.3, wait_timeout=0.3))
    assert result.violations == []


@pytest.mark.timeout(60)
def test_a_run_that_progresses_forever_is_reported_at_the_hard_cap() -> None:
    def program(m: Mutator) -> None:
        while True:
            m.poll()  # raises RunAborted once the run is reported
            time.sleep(0.002)

    started = time.monotonic()
    result = testbed.run(Config(mutators=1, program=program, run_timeout=0.3, wait_timeout=0.3, timeout_cap=3.0))
    assert 0.9 <= time.monotonic() - started < 4.0
    assert [v.invariant for v in result.violations] == ["safepoint-liveness"]
    assert "hard cap of 0.9s" in result.violations[0].message
