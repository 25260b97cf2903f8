"""The deopt scenarios on the correct model: no violation under controlled
strategies, and the runs really deoptimize, link, unlink and mark-compact."""

from __future__ import annotations

import pytest

import testbed

SCENARIOS = ["waltz", "deopt-storm", "weak-list-churn"]
SEEDS = [2, 3, 4]
EXERCISED = ("deopts", "eager_deopts", "lazy_deopts", "weak_list_links", "weak_list_unlinks", "mark_compacts", "freed")


@pytest.mark.parametrize("strategy", ["random", "pct"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_deopt_scenario_is_clean_and_exercises_deopts_and_the_weak_list(scenario: str, strategy: str) -> None:
    totals = dict.fromkeys(EXERCISED, 0)
    for seed in SEEDS:
        result = testbed.run(testbed.scenario_config(scenario, seed=seed, strategy=strategy))
        assert result.ok, (seed, [v.to_json() for v in result.violations])
        stats = result.stats
        assert stats["deopts"] == stats["eager_deopts"] + stats["lazy_deopts"]
        assert stats["weak_list_unlinks"] <= stats["weak_list_links"] <= stats["deopts"]
        for key in EXERCISED:
            totals[key] += stats[key]
    assert all(totals[key] > 0 for key in EXERCISED), totals
