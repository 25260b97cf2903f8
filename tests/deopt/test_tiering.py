"""Tiering: a function runs interpreter code until hot, then optimized code; a
deopt sends new calls back to the interpreter (testbed/deopt/function.py)."""

from __future__ import annotations

from typing import Any

import pytest

from testbed.heap import Code
from testbed.runtime import Mutator


def _call_and_return(m: Mutator, log: list[Code], fail: bool = False) -> None:
    frame = m.call_optimized(0)
    assert isinstance(frame.code, Code)
    log.append(frame.code)
    if fail:
        assert m.fail_guard()
    m.return_from_call()


@pytest.mark.parametrize("optimize_after", [1, 3, 5])
def test_the_optimize_after_th_call_is_the_first_to_run_optimized_code(run_program: Any, optimize_after: int) -> None:
    codes: list[Code] = []

    def program(m: Mutator) -> None:
        for _ in range(optimize_after + 3):
            _call_and_return(m, codes)

    run = run_program(program, optimize_after=optimize_after)
    assert run.result.ok, run.result.violations
    function = run.isolate.deoptimizer.functions[0]
    tiers = [code.optimized for code in codes]
    assert tiers == [False] * (optimize_after - 1) + [True] * 4
    assert all(code is function.interpreter_code for code in codes[: optimize_after - 1])
    optimized = codes[optimize_after - 1 :]
    assert all(code is optimized[0] for code in optimized), "one optimized code object serves every hot call"
    assert function.optimized_code is optimized[0]
    assert function.optimizations == 1
    assert run.stats["optimizations"] == 1
    assert run.stats["deopts"] == 0


def test_after_a_deopt_in_the_call_that_tiered_up_new_calls_run_interpreter_code_until_hot_again(
    run_program: Any,
) -> None:
    codes: list[Code] = []

    def program(m: Mutator) -> None:
        for _ in range(2):
            _call_and_return(m, codes)  # interpreter, interpreter
        _call_and_return(m, codes, fail=True)  # the first optimized call: deopt it
        for _ in range(4):
            _call_and_return(m, codes)

    run = run_program(program, optimize_after=3)
    assert run.result.ok, run.result.violations
    function = run.isolate.deoptimizer.functions[0]
    assert [code.optimized for code in codes] == [False, False, True, False, False, True, True]
    first, second = codes[2], codes[5]
    assert second is codes[6]
    assert second is not first, "re-optimization compiles new code"
    assert first.marked_for_deoptimization and not second.marked_for_deoptimization
    assert function.optimized_code is second
    assert function.optimizations == 2
    assert run.stats["optimizations"] == 2
    assert run.stats["eager_deopts"] == 1


@pytest.mark.parametrize("optimized_calls", [2, 4])
def test_after_a_deopt_new_calls_run_interpreter_code_however_long_the_code_ran_optimized(
    run_program: Any, optimized_calls: int
) -> None:
    codes: list[Code] = []

    def program(m: Mutator) -> None:
        for _ in range(2):
            _call_and_return(m, codes)  # interpreter, interpreter
        for _ in range(optimized_calls - 1):
            _call_and_return(m, codes)  # optimized
        _call_and_return(m, codes, fail=True)  # optimized: deopt it
        for _ in range(3):
            _call_and_return(m, codes)

    run = run_program(program, optimize_after=3)
    assert run.result.ok, run.result.violations
    tiers = [code.optimized for code in codes]
    assert tiers[: 2 + optimized_calls] == [False, False] + [True] * optimized_calls
    assert tiers[2 + optimized_calls :] == [False, False, True], (
        f"calls after the deopt ran {codes[2 + optimized_calls :]}"
    )
