"""Every available fault is caught, by the invariant the catalogue names, within the budget.

Each case stresses the scenario that aims at the fault for up to
``--stress-budget`` seconds and stops at the first schedule whose findings
include the fault's ``caught_by`` invariant.
"""

from __future__ import annotations

import pytest

import testbed
from testbed.faults import Fault

STRESS_SEED = 7

AVAILABLE = [fault for fault in testbed.FAULTS if fault.available]


class _Caught(Exception):
    """Raised from ``on_result`` to end the stress run at the first catch."""


@pytest.mark.parametrize("fault", AVAILABLE, ids=[fault.name for fault in AVAILABLE])
def test_fault_is_caught_by_its_invariant(fault: Fault, stress_budget: float) -> None:
    scenario = fault.scenario
    caught_by = set(fault.caught_by.split(" / "))
    progress: list[testbed.StressResult] = []

    def on_result(result: testbed.StressResult, outcome: testbed.RunResult) -> None:
        progress[:] = [result]
        if caught_by & {v.invariant for v in outcome.violations}:
            raise _Caught

    try:
        result = testbed.stress(
            [scenario], seed=STRESS_SEED, duration=stress_budget, faults=[fault.name], on_result=on_result
        )
    except _Caught:
        result = progress[0]
    found = {f.violation.invariant for f in result.findings}
    print(
        f"{fault.name} on {scenario}: {result.schedules} schedule(s), "
        f"{result.failed_schedules} failing, found {', '.join(sorted(found)) or 'nothing'}"
    )
    assert result.schedules >= 1
    assert caught_by & found, (
        f"{fault.name}: {sorted(caught_by)} not found in {result.schedules} schedules on {scenario} "
        f"within {stress_budget:g}s; found {sorted(found)}"
    )
    finding = next(f for f in result.findings if f.violation.invariant in caught_by)
    assert f"--fault {fault.name}" in finding.reproduce
    assert f"--scenario {scenario}" in finding.reproduce
