"""Lazy deopt: a thread returning into code another thread deoptimized rebuilds
its own activation first (testbed/deopt/deoptimizer.py ``check_lazy``).

Two mutators run activations of the same optimized code (optimize_after=1).
They are sequenced with ``testbed.sched`` events, waited on while parked, so
a controlled run hands the turn on instead of blocking and no GC waits for a
waiting thread.
"""

from __future__ import annotations

from typing import Any

import pytest

from testbed.heap import Code
from testbed.runtime import Mutator
from testbed.sched import Barrier, Event

#: seconds an event wait may take (free mode only; controlled mode detects deadlocks)
TIMEOUT = 10.0


def _wait(m: Mutator, event: Event) -> None:
    with m.parked():
        event.wait(TIMEOUT)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_thread_returning_into_code_another_thread_deoptimized_deoptimizes_lazily(
    run_program: Any, seed: int
) -> None:
    called = [Event("mutator-0 called"), Event("mutator-1 called")]
    deoptimized = Event("mutator-0 deoptimized")
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        if m.index == 0:
            frame = m.call_optimized(0)
            seen["code0"] = frame.code
            called[0].set()
            _wait(m, called[1])
            seen["eager"] = m.fail_guard()
            deoptimized.set()
            m.return_from_call()
        else:
            _wait(m, called[0])
            frame = m.call_optimized(0)
            seen.update(frame1=frame, code1=frame.code)
            called[1].set()
            _wait(m, deoptimized)
            seen["before_return"] = (frame.code, frame.deoptimized, frame.code.marked_for_deoptimization)
            m.return_from_call()
            seen["after_return"] = (frame.code, frame.deoptimized)
            seen["weak_list"] = m.isolate.heap.weak_code_list.entries()

    run = run_program(program, mutators=2, optimize_after=1, seed=seed)
    assert run.result.ok, run.result.violations
    code = seen["code0"]
    assert isinstance(code, Code) and code.optimized
    assert seen["code1"] is code, "both threads run the same optimized code"
    assert seen["eager"] is True
    assert seen["before_return"] == (code, False, True), "marked by the other thread, not yet deoptimized"
    interpreter = run.isolate.deoptimizer.functions[0].interpreter_code
    assert seen["after_return"] == (interpreter, True)
    assert seen["weak_list"] == [code], "two threads deoptimized activations of it, it is linked once"
    stats = run.stats
    assert stats["lazy_deopts"] == 1 and stats["eager_deopts"] == 1
    assert stats["weak_list_links"] == 1
    lazy = [e for e in run.result.events if e.kind == "deopt-entry" and e.detail.startswith("lazy")]
    assert [e.thread for e in lazy] == ["mutator-1"]


@pytest.mark.parametrize("seed", range(6))
def test_concurrent_eager_deopts_of_the_same_code_link_it_once(run_program: Any, seed: int) -> None:
    both_called = Barrier(2, "both called")
    codes: dict[int, Code] = {}
    failed: dict[int, bool] = {}

    def program(m: Mutator) -> None:
        frame = m.call_optimized(0)
        assert isinstance(frame.code, Code)
        codes[m.index] = frame.code
        with m.parked():
            both_called.wait(TIMEOUT)
        failed[m.index] = m.fail_guard()
        m.return_from_call()

    # optimize_after=1: the first call optimizes; the barrier makes the second
    # call happen before either deopt, so both run the same code.
    run = run_program(program, mutators=2, optimize_after=1, seed=seed, switch_probability=0.5)
    assert run.result.ok, run.result.violations
    assert codes[0] is codes[1]
    assert failed == {0: True, 1: True}
    assert run.stats["eager_deopts"] == 2
    assert run.stats["weak_list_links"] == 1
    assert run.isolate.heap.weak_code_list.entries() == [codes[0]]
