"""Every invariant's evaluations are counted; a campaign says which never ran.

A check that never ran is not a pass: ``stats.checks_by_invariant`` maps every
invariant of the catalogue to how often it was evaluated, and ``stress``
warns about the ones a whole campaign never evaluated.
"""

from __future__ import annotations

import json

import testbed
from testbed.check import invariant_names


def test_a_campaign_over_all_scenarios_evaluates_every_invariant(cli) -> None:
    done = cli("stress", "--scenario", "all", "--schedules", "5", "--ops", "200", "--json", "-")
    assert done.code == 0, done
    counts = json.loads(done.out)["stats"]["checks_by_invariant"]
    assert set(counts) == set(invariant_names())
    assert all(count > 0 for count in counts.values()), counts
    assert "never evaluated" not in done.err


def test_a_campaign_without_mark_compacts_warns_that_weak_list_cleared_never_ran(cli) -> None:
    done = cli("stress", "--scenario", "mixed", "--schedules", "2", "--ops", "300", "--gc-interval", "40")
    assert done.code == 0, done
    warning = [line for line in done.out.splitlines() if "never evaluated" in line]
    # no mark-compact: no sweep to clear the weak list, and no sweeper to pause
    expected = "  warning: never evaluated in this campaign: weak-list-cleared, sweeper-paused-during-scavenge"
    assert warning == [expected], done.out


def test_one_run_counts_evaluations_per_invariant_and_stress_sums_them() -> None:
    config = testbed.scenario_config("waltz", ops=150, seed=2)
    single = testbed.run(config).stats["checks_by_invariant"]
    assert single["world-stopped"] > single["store-buffers-flushed"] > 0, "screened at every heap operation"
    campaign = testbed.stress(["waltz"], schedules=2, overrides={"ops": 150}).stats["checks_by_invariant"]
    assert all(campaign[name] >= single[name] or name == "world-stopped" for name in single)
    assert set(campaign) == set(single)


def test_a_campaign_that_never_collects_names_every_pause_check_as_never_run(cli) -> None:
    done = cli("stress", "--scenario", "mixed", "--schedules", "2", "--ops", "100", "--gc-interval", "0")
    assert done.code == 0, done
    assert "never evaluated in this campaign: store-buffers-flushed, remset-precise" in done.out
