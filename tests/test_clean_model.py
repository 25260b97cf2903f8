"""The correct model: a few hundred free-mode schedules, zero violations."""

from __future__ import annotations

import pytest

import testbed


@pytest.mark.timeout(300)
@pytest.mark.parametrize("scenario", sorted(testbed.SCENARIOS))
def test_correct_model_has_no_violations_over_many_schedules(scenario: str) -> None:
    result = testbed.stress([scenario], seed=2026, schedules=150)
    assert result.schedules == 150
    assert result.ok, [f.to_json() for f in result.findings[:3]]
    stats = result.stats
    for counter in ("scavenges", "promoted", "store_buffer_flushes", "safepoints"):
        assert stats[counter] > 0, counter
    assert stats["peak_mutator_threads"] == 4
    assert stats["peak_os_threads"] >= 5  # 4 mutators + the main thread
