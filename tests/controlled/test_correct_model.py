"""With no fault switched on, no controlled schedule finds a violation.

Fifty schedules per scenario and strategy.  The runs are shortened (250
operations) and collect every 25 allocations per mutator, so each schedule
has a dozen pauses instead of a handful: more safepoints per second of test.
"""

from __future__ import annotations

import pytest

import testbed

SCHEDULES = 50
#: the scenarios of the safepoint / store-buffer / scavenger model; listed, not read
#: from testbed.SCENARIOS, so a new (slower) scenario brings its own budget
SCENARIOS = ("mixed", "store-buffer-storm")
SHORT = {"ops": 250, "gc_interval": 25}


@pytest.mark.parametrize("strategy", ["random", "pct"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_correct_model_has_no_violation_under_controlled_schedules(scenario: str, strategy: str) -> None:
    result = testbed.stress([scenario], seed=1, schedules=SCHEDULES, strategy=strategy, overrides=SHORT)
    assert result.schedules == SCHEDULES
    assert result.ok, [f.to_json() for f in result.findings[:3]]
    stats = result.stats
    assert stats["scavenges"] >= SCHEDULES, "every schedule should have collected"
    assert stats["preemptions"] > 0
    assert stats["decisions"] > SCHEDULES * 100
