"""A livelock in a controlled run: the step limit ends it and it is reported.

docs/design.md, 'Invariants': safepoint-liveness holds when every safepoint completes
and nothing deadlocks; the controlled scheduler's step limit "turns livelock
into the same kind of report" as a deadlock.
"""

from __future__ import annotations

import time

import pytest

import testbed
from testbed.runtime import Mutator

# StepLimit is a Halt (a BaseException): it is raised once, in the thread that
# crossed the limit, and later points pass, so that thread's top level hands it
# to Isolate.report_thread_failure (the report's own lock-acquire point does not
# raise again) and every other thread unwinds through the abort.  No thread dies
# with an uncaught exception, and the last mutator still shuts the collectors down.


def spin_forever(m: Mutator) -> None:
    """Busy-waits for something that never happens, polling at each turn."""
    while True:
        m.poll()


def spinning_config(**changes: object) -> testbed.Config:
    values = {"program": spin_forever, "mutators": 2, "strategy": "random", "seed": 0, "max_steps": 1000}
    return testbed.Config(**(values | changes))


def test_livelocked_run_ends_promptly_at_the_step_limit() -> None:
    started = time.monotonic()
    result = testbed.run(spinning_config())
    assert time.monotonic() - started < 5.0
    assert 1000 < result.stats["points"] < 1100


def test_livelocked_custom_workload_is_reported_as_safepoint_liveness() -> None:
    result = testbed.run(spinning_config())
    assert [v.invariant for v in result.violations] == ["safepoint-liveness"]
    assert "livelock: no end after 1000 scheduling points" in result.violations[0].message


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_standard_run_past_its_step_limit_is_not_reported_clean(strategy: str) -> None:
    result = testbed.run(testbed.scenario_config("mixed", seed=1, strategy=strategy, max_steps=500))
    assert not result.ok, "a run cut short by the step limit must not look clean"
    assert result.violations[0].invariant == "safepoint-liveness"
    assert "livelock" in result.violations[0].message
