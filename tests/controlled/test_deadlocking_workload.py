"""A custom workload that takes two locks in opposite orders deadlocks under some
schedule, and the controlled scheduler reports it as ``safepoint-liveness``
at once: no runnable thread left, no wall-clock timeout involved.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

import testbed
from testbed.runtime import ConfigError, Mutator
from testbed.sched import Lock, write_trace

#: a random-strategy seed whose schedule deadlocks after a few rounds (found by
#: searching seeds 0..14, most of which deadlock)
DEADLOCK_SEED = 1
#: a seed whose schedule happens to avoid the deadlock
LUCKY_SEED = 3


def two_lock_program(opposite: bool) -> tuple[Callable[[Mutator], None], Lock, Lock]:
    lock_a, lock_b = Lock("lock-a"), Lock("lock-b")

    def take_two_locks(m: Mutator) -> None:
        first, second = (lock_b, lock_a) if opposite and m.index % 2 else (lock_a, lock_b)
        for _ in range(10):
            with first, second:
                pass
            m.poll()

    return take_two_locks, lock_a, lock_b


def config(seed: int, opposite: bool = True, **changes: object) -> tuple[testbed.Config, Lock, Lock]:
    program, lock_a, lock_b = two_lock_program(opposite)
    values = {"program": program, "mutators": 2, "strategy": "random", "seed": seed, "run_timeout": 60.0}
    return testbed.Config(**(values | changes)), lock_a, lock_b


def test_opposite_lock_orders_are_reported_as_a_deadlock_naming_threads_and_locks() -> None:
    cfg, lock_a, lock_b = config(DEADLOCK_SEED)
    started = time.monotonic()
    result = testbed.run(cfg)
    elapsed = time.monotonic() - started
    assert [v.invariant for v in result.violations] == ["safepoint-liveness"]
    violation = result.violations[0]
    assert "deadlock" in violation.message
    for name in ("mutator-0", "mutator-1", "lock-a", "lock-b"):
        assert name in violation.message, f"{name!r} not in {violation.message!r}"
    assert "mutator-0 waits for lock 'lock-b' held by mutator-1" in violation.message
    assert "mutator-1 waits for lock 'lock-a' held by mutator-0" in violation.message
    assert {"mutator-0", "mutator-1"} <= set(violation.stacks)
    assert result.trace["violation"]["invariant"] == "safepoint-liveness"
    assert not lock_a.locked() and not lock_b.locked()
    assert elapsed < 5.0, f"took {elapsed:.1f}s: found by a timeout, not by the scheduler"


def test_deadlock_tape_replays_to_the_same_deadlock() -> None:
    cfg, _, _ = config(DEADLOCK_SEED)
    recorded = testbed.run(cfg)
    replayed = testbed.run(config(DEADLOCK_SEED, strategy="replay")[0], tape=recorded.trace["tape"])
    assert [(v.invariant, v.step, v.message) for v in replayed.violations] == [
        (v.invariant, v.step, v.message) for v in recorded.violations
    ]
    assert replayed.trace["events"] == recorded.trace["events"]


def test_a_schedule_that_avoids_the_deadlock_is_clean() -> None:
    result = testbed.run(config(LUCKY_SEED)[0])
    assert result.ok, [v.to_json() for v in result.violations]


@pytest.mark.parametrize("seed", range(15))
def test_one_lock_order_never_deadlocks(seed: int) -> None:
    result = testbed.run(config(seed, opposite=False)[0])
    assert result.ok, [v.to_json() for v in result.violations]


def test_trace_of_a_closure_is_refused_by_cli_replay_and_replays_from_python(cli, tmp_path) -> None:
    trace = testbed.run(config(DEADLOCK_SEED)[0]).trace
    path = tmp_path / "deadlock.json"
    write_trace(path, trace)
    outcome = cli("replay", str(path))
    assert outcome.code == 2
    assert outcome.err.startswith("testbed: error:")
    assert "program=fn" in outcome.err, outcome.err
    with pytest.raises(ConfigError, match="local function"):
        testbed.Config.from_json(trace["config"]).program_function()
    program, _, _ = two_lock_program(opposite=True)
    replayed = testbed.replay(path, program=program)
    assert replayed.matches == 1, "the same deadlock at the same step"
