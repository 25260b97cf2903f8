"""Whatever escapes a workload ends the run as ``model-error``, located at the workload's own line."""

from __future__ import annotations

import sys

import pytest

import testbed
from testbed.runtime import Mutator


def exits(m: Mutator) -> None:
    m.alloc()
    sys.exit(3)


def interrupts(m: Mutator) -> None:
    raise KeyboardInterrupt


def fails(m: Mutator) -> None:
    host = m.alloc(fields=1)
    m.load(host, 5)


LINES = {exits: exits.__code__.co_firstlineno + 2, interrupts: interrupts.__code__.co_firstlineno + 1}


@pytest.mark.parametrize("strategy", ["free", "pos"])
@pytest.mark.parametrize("program", [exits, interrupts], ids=["SystemExit", "KeyboardInterrupt"])
def test_a_base_exception_escaping_a_workload_is_a_model_error(program, strategy: str) -> None:
    result = testbed.run(testbed.Config(program=program, mutators=2, strategy=strategy))
    assert not result.ok
    violation = result.violations[0]
    assert violation.invariant == "model-error"
    assert f"raised {'SystemExit: 3' if program is exits else 'KeyboardInterrupt'} " in violation.message
    assert f"at {__file__}:{LINES[program]} in {program.__name__}" in violation.message


def test_a_model_error_names_the_workload_line_before_the_models() -> None:
    result = testbed.run(testbed.Config(program=fails, mutators=1, strategy="pos"))
    message = result.violations[0].message
    assert result.violations[0].invariant == "model-error"
    assert f"at {__file__}:{fails.__code__.co_firstlineno + 2} in fails" in message
