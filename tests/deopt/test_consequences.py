"""Deopt faults are caught by what they cause later, never where they happen.

``stale-frame-code`` leaves a rebuilt frame pointing at the optimized code
it was running; ``unlink-before-marking-done`` unlinks and releases weak-list
entries before the stack is marked.  Neither is visible when it happens: the
checker reports a frame running freed code only after a mark-compact has
released that code, at a later step.  These tests read each violation's
code id from its message and find, in the run's event log, the deopt that
rebuilt the frame (or the release) strictly before the report.
"""

from __future__ import annotations

import re

import pytest

import testbed
from testbed.runtime import Event
from tests.controlled._same_schedule import control_run

SEEDS = range(1, 5)
#: the control (two runs a seed) on the first two seeds: the suite's budget
CONTROL_SEEDS = range(1, 3)


def _run(fault: str, seed: int) -> testbed.RunResult:
    config = testbed.scenario_config("deopt-storm", seed=seed, strategy="random", faults=frozenset({fault}))
    return testbed.run(config)


def _freed_code(message: str) -> int:
    match = re.search(r"runs freed code #(\d+)", message)
    assert match, message
    return int(match.group(1))


def _steps(events: list[Event], kind: str, code: int) -> list[int]:
    return [e.step for e in events if e.kind == kind and re.search(rf"code #{code}\b", e.detail)]


@pytest.mark.parametrize("seed", SEEDS)
def test_stale_frame_code_is_reported_after_the_mark_compact_that_released_the_code(seed: int) -> None:
    result = _run("stale-frame-code", seed)
    first = result.violations[0]
    assert first.invariant == "frames-consistent", result.violations
    code = _freed_code(first.message)
    rebuilt = _steps(result.events, "frame-rebuilt", code)
    released = _steps(result.events, "weak-list-unlink", code)
    assert rebuilt and released, "the code was deoptimized, then released"
    assert rebuilt[0] < released[-1] <= first.step, (rebuilt, released, first.step)
    marks = [e.step for e in result.events if e.kind == "mark-compact"]
    assert any(rebuilt[0] < step <= first.step for step in marks), "a mark-compact ran between the deopt and the report"


@pytest.mark.parametrize("seed", SEEDS)
def test_unlink_before_marking_done_is_reported_after_the_release(seed: int) -> None:
    result = _run("unlink-before-marking-done", seed)
    first = result.violations[0]
    assert first.invariant == "frames-consistent", result.violations
    code = _freed_code(first.message)
    released = _steps(result.events, "weak-list-unlink", code)
    assert released and released[-1] <= first.step
    assert "released" in next(
        e.detail for e in result.events if e.step == released[-1] and e.kind == "weak-list-unlink"
    )


@pytest.mark.parametrize("seed", CONTROL_SEEDS)
@pytest.mark.parametrize("fault", ["stale-frame-code", "unlink-before-marking-done"])
def test_the_faulty_schedule_without_the_fault_is_clean(fault: str, seed: int) -> None:
    # The faulty run's own decisions with the fault off, up to the first
    # operation the correct code path does differently; the seed's random
    # walk from there (tests/controlled/_same_schedule.py).
    config = testbed.scenario_config("deopt-storm", seed=seed, strategy="random", faults=frozenset({fault}))
    control = control_run(config)
    assert control.faulty.violations, f"{fault}: seed {seed} found nothing"
    assert control.left is not None and control.ops_followed > 0, control.describe()
    assert control.result.ok, (control.describe(), [v.to_json() for v in control.result.violations])
