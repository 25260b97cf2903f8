"""Locker mode: threads take turns through the isolate's v8::Locker and the
deoptimizer patches every thread's activations (testbed/runtime/locker.py,
testbed/deopt/deoptimizer.py).

Two mutators share optimized code: mutator-0 calls it and leaves the isolate
(``m.parked()`` is an Unlocker) with that activation on its stack; mutator-1
enters, calls the same code and fails a guard, which marks the code while
mutator-0 is archived.  Events sequence them; waiting inside ``m.parked()``
holds no Locker, so the other thread can run.
"""

from __future__ import annotations

from typing import Any

import pytest

import testbed
from testbed.heap import Code, Map, poison
from testbed.runtime import Mutator, ThreadState
from testbed.sched import Event

#: seconds an event wait may take (free mode only; controlled mode detects deadlocks)
TIMEOUT = 10.0
LOCKER = {"mutators": 2, "optimize_after": 1, "locker": True, "embedded_objects": True}
#: the checks about the protocol rather than the heap (bench/ablation.py switches them off)
PROTOCOL_CHECKS = frozenset({"world-stopped", "store-buffers-flushed", "sweeper-paused-during-scavenge"})


def _wait(m: Mutator, event: Event) -> None:
    with m.parked():  # an Unlocker: archived, frames and all
        event.wait(TIMEOUT)


def _shared_code_program(seen: dict[str, Any], collect: bool = False) -> Any:
    """mutator-0 archived with an activation of f0 while mutator-1 deoptimizes f0's code."""
    called = Event("mutator-0 called")
    deoptimized = Event("mutator-1 deoptimized")

    def program(m: Mutator) -> None:
        if m.index == 0:
            frame = m.call_optimized(0)
            seen.update(frame0=frame, code=frame.code, embedded_before=list(frame.code.embedded))
            called.set()
            _wait(m, deoptimized)
            seen["on_reentry"] = (frame.lazy_deopt, frame.deoptimized)
            m.return_from_call()
            seen["after_return"] = (frame.code, frame.deoptimized)
        else:
            _wait(m, called)
            frame = m.call_optimized(0)
            seen["same_code"] = frame.code is seen["code"]
            seen["eager"] = m.fail_guard()
            seen["embedded_after"] = list(seen["code"].embedded)
            if collect:
                m.isolate.collect_garbage(m)  # a scavenge and a mark-compact, mutator-0 still archived
            deoptimized.set()
            m.return_from_call()

    return program


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_deopt_patches_an_archived_threads_activation_which_deoptimizes_lazily_on_return(
    run_program: Any, seed: int
) -> None:
    seen: dict[str, Any] = {}
    run = run_program(_shared_code_program(seen), seed=seed, **LOCKER)
    assert run.result.ok, [v.to_json() for v in run.result.violations]
    code = seen["code"]
    assert isinstance(code, Code) and code.optimized and seen["same_code"] and seen["eager"]
    assert seen["on_reentry"] == (True, False), "patched while archived, not yet deoptimized"
    assert seen["after_return"][1] is True and seen["after_return"][0] is not code
    assert run.stats["lazy_deopts"] == 1 and run.stats["eager_deopts"] == 1
    assert run.isolate.locker is not None and run.isolate.locker.entries >= 4


def test_marking_code_clears_its_embedded_objects(run_program: Any) -> None:
    seen: dict[str, Any] = {}
    run = run_program(_shared_code_program(seen), **LOCKER)
    assert run.result.ok, [v.to_json() for v in run.result.violations]
    assert len(seen["embedded_before"]) == 1 and seen["embedded_before"][0] is not None
    assert seen["embedded_after"] == [None]


@pytest.mark.parametrize("protocol_checks", [True, False])
def test_patching_only_the_current_thread_lets_the_archived_thread_load_through_a_cleared_embedded_object(
    run_program: Any, protocol_checks: bool
) -> None:
    # The archived activation was not patched, so mutator-0's return runs the
    # invalidated code, which loads through its embedded object: the load
    # itself is the dangling read, with or without the protocol checks.
    seen: dict[str, Any] = {}
    disabled = frozenset() if protocol_checks else PROTOCOL_CHECKS
    run = run_program(
        _shared_code_program(seen),
        faults=frozenset({"lazy-deopt-current-thread-only"}),
        disabled_invariants=disabled,
        **LOCKER,
    )
    first = run.result.violations[0]
    assert first.invariant == "no-dangling" and first.thread == "mutator-0", first
    assert f"runs code #{seen['code'].lid} and loads through embedded object 0, which was cleared" in first.message
    assert seen["on_reentry"] == (False, False), "the archived activation was left unpatched"


def test_uncleared_embedded_objects_dangle_once_a_collection_frees_them(run_program: Any) -> None:
    seen: dict[str, Any] = {}
    config = LOCKER | {"mark_compact_every": 1, "faults": frozenset({"embedded-refs-not-invalidated"})}
    run = run_program(_shared_code_program(seen, collect=True), **config)
    first = run.result.violations[0]
    assert first.invariant == "no-dangling", first
    assert f"code #{seen['code'].lid} (marked for deoptimization) embeds" in first.message


def test_the_same_collection_is_clean_when_marking_clears_embedded_objects(run_program: Any) -> None:
    seen: dict[str, Any] = {}
    run = run_program(_shared_code_program(seen, collect=True), **(LOCKER | {"mark_compact_every": 1}))
    assert run.result.ok, [v.to_json() for v in run.result.violations]
    assert run.stats["mark_compacts"] == 1


@pytest.mark.parametrize("seed", [0, 1])
def test_only_the_locker_holder_runs(run_program: Any, seed: int) -> None:
    held: list[bool] = []

    def program(m: Mutator) -> None:
        for i in range(30):
            held.append(m.isolate.locker.holder is m)
            m.call_optimized(i % 2)
            m.alloc(2)
            if i % 3 == 0:
                with m.parked():
                    pass
            m.return_from_call()

    run = run_program(program, seed=seed, mutators=3, functions=2, locker=True, gc_interval=7)
    assert run.result.ok, [v.to_json() for v in run.result.violations]
    assert held and all(held)
    assert run.isolate.locker.entries > 3, "threads left and entered again"


def test_embedded_objects_without_the_locker_deoptimize_all_marked_code_at_a_safepoint() -> None:
    # HotSpot's two steps (docs/bugs/jdk-8299074-deopt-skipped-when-already-marked.md):
    # a thread that finds its code already marked still deoptimizes all marked code.
    config = testbed.scenario_config("deopt-mark-race", seed=4, strategy="random", ops=200)
    result = testbed.run(config)
    assert result.ok, [v.to_json() for v in result.violations]
    kinds = [event.kind for event in result.events]
    assert "deopt-all-marked" in kinds
    assert any(e.kind == "mark-for-deopt" and "already marked" in e.detail for e in result.events)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("strategy", ["free", "random", "pct"])
def test_locker_deopt_scenario_is_clean_and_patches_archived_threads(strategy: str) -> None:
    result = testbed.stress(["locker-deopt"], seed=11, schedules=20, strategy=strategy)
    assert result.ok and result.schedules == 20, [f.violation.to_json() for f in result.findings[:3]]
    stats = result.stats
    assert stats["lazy_deopts"] > 0 and stats["mark_compacts"] > 0 and stats["freed"] > 0, stats


def _stopped_locker_isolate(bare_isolate: Any) -> Any:
    isolate = bare_isolate(locker=True, embedded_objects=True)
    for mutator in isolate.mutators:
        mutator.state = ThreadState.PARKED
    return isolate


def test_the_verifier_reports_live_code_embedding_a_freed_object(bare_isolate: Any) -> None:
    isolate = _stopped_locker_isolate(bare_isolate)
    function = isolate.deoptimizer.functions[0]
    code = function.code_for_call(isolate.mutators[0].allocator)
    (target,) = code.embedded
    poison(target, Map.FREED)  # what a sweep does to an object nobody marked
    violations = isolate.observer.verifier.at_pause_start(isolate)
    assert [v.invariant for v in violations] == ["no-dangling"], violations
    assert f"code #{code.lid} (current) embeds #{target.lid} at 0, a freed object" in violations[0].message


def test_the_verifier_accepts_live_and_cleared_embedded_objects(bare_isolate: Any) -> None:
    isolate = _stopped_locker_isolate(bare_isolate)
    current = isolate.deoptimizer.functions[0].code_for_call(isolate.mutators[0].allocator)
    cleared = isolate.deoptimizer.functions[1].code_for_call(isolate.mutators[0].allocator)
    cleared.embedded = [None]
    assert current.embedded[0] is not None
    assert isolate.observer.verifier.at_pause_start(isolate) == []
