"""The fixed variants of the ported benchmark programs (bench/sctbench) run clean: 1,000 schedules each.

With the bug fixed, no strategy may find anything: a failure here is a bug
of the port (or of the scheduler), never a finding to retry away.  The
buggy variants are measured by ``bench/sct.py``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sctbench import PROGRAMS
from testbed.sched import explore

SCHEDULES = 1000


@pytest.mark.parametrize("strategy", ["portfolio", "pos", "uniform"])
@pytest.mark.parametrize("program", PROGRAMS)
def test_the_fixed_program_is_clean(program: str, strategy: str) -> None:
    module = importlib.import_module(f"bench.sctbench.{program}")
    result = explore(**module.fixed().arguments(), strategy=strategy, schedules=SCHEDULES, seed=2026)
    assert not result.failed, f"{program} (fixed) failed: {result}\n{result.traceback}"
    assert result.schedules == SCHEDULES
