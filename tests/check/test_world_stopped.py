"""The world-stopped monitor: no mutator heap operation while a GC is in progress."""

from __future__ import annotations

import pytest

import testbed
from testbed.check import Checker
from testbed.gc import SerialScavenger
from testbed.runtime import Config, Isolate, ThreadState


@pytest.mark.timeout(60)
def test_early_scavenge_is_caught_by_world_stopped() -> None:
    # The fault lets the initiator start while the last running mutator is
    # still running; free scheduling does not make that certain on every
    # seed, but it happens on nearly all of them.
    found: list[testbed.Violation] = []
    for seed in range(10):
        result = testbed.run(testbed.scenario_config("mixed", seed=seed, faults={"early-scavenge"}))
        found = [v for v in result.violations if v.invariant == "world-stopped"]
        if found:
            break
    assert found, "early-scavenge was not caught by world-stopped in 10 seeds"
    assert "mutator-" in found[0].message


def test_the_correct_model_passes_world_stopped_on_the_same_seeds() -> None:
    for seed in range(3):
        result = testbed.run(testbed.scenario_config("mixed", seed=seed))
        assert [v for v in result.violations if v.invariant == "world-stopped"] == []


def make_isolate(**changes: object) -> tuple[Isolate, Checker]:
    config = Config(mutators=2, **changes)  # type: ignore[arg-type]
    checker = Checker(config)
    return Isolate(config, SerialScavenger(), checker), checker


def test_on_heap_op_reports_an_operation_during_a_gc() -> None:
    isolate, checker = make_isolate()
    mutator = isolate.mutators[1]
    for m in isolate.mutators:
        m.state = ThreadState.IN_SAFEPOINT
    checker.on_pause_start(isolate)  # the initiator's own report: its collection starts
    assert isolate.violations == []
    checker.on_heap_op(mutator, "store")
    assert isolate.is_aborted()
    [violation] = isolate.violations
    assert violation.invariant == "world-stopped"
    assert "mutator-1" in violation.message and "store" in violation.message
    # the first report wins: later ones neither duplicate nor replace it
    checker.on_heap_op(isolate.mutators[0], "alloc")
    assert isolate.violations == [violation]


@pytest.mark.parametrize("op", ["alloc", "store", "load", "frame-store", "global-load"])
def test_on_heap_op_is_silent_when_no_gc_is_in_progress(op: str) -> None:
    isolate, checker = make_isolate()
    # requested but not yet collecting: a running thread may still work until it polls
    isolate.safepoint.requested = True
    checker.on_heap_op(isolate.mutators[0], op)
    assert isolate.violations == []
    assert not isolate.is_aborted()


def test_pause_start_verifier_reports_a_running_mutator() -> None:
    isolate, checker = make_isolate()
    isolate.mutators[0].state = ThreadState.IN_SAFEPOINT
    isolate.mutators[1].state = ThreadState.RUNNING
    violations = checker.verifier.at_pause_start(isolate)
    assert [v.invariant for v in violations] == ["world-stopped"]
    assert "mutator-1" in violations[0].message
    isolate.mutators[1].state = ThreadState.PARKED
    assert checker.verifier.at_pause_start(isolate) == []


def test_on_heap_op_is_silent_once_the_initiator_reports_its_pause_end() -> None:
    isolate, checker = make_isolate()
    for m in isolate.mutators:
        m.state = ThreadState.IN_SAFEPOINT
    checker.on_pause_start(isolate)
    checker.on_pause_end(isolate)
    for m in isolate.mutators:
        m.state = ThreadState.RUNNING
    checker.on_heap_op(isolate.mutators[0], "alloc")
    assert isolate.violations == []


def test_the_safepoint_keeps_no_gc_in_progress_flag_for_the_checker() -> None:
    # "A GC is in progress" is what the initiator reports (pause start and
    # end), not a field only the checker reads.
    isolate, _ = make_isolate()
    assert not hasattr(isolate.safepoint, "in_progress")
