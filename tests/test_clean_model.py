"""The correct model: a few hundred free-mode schedules, zero violations."""

from __future__ import annotations

import pytest

import testbed

#: schedules per scenario: a few hundred in all, within the suite's time budget (the
#: thousands are stress/test_clean_soak.py's, per strategy)
SCHEDULES = {
    "mixed": 75,
    # about twice the cost of a mixed schedule: four workers, many short scavenges
    "work-stealing": 20,
    "store-buffer-storm": 75,
    "waltz": 50,
    "deopt-storm": 20,
    "weak-list-churn": 20,
    "layout-and-folding": 30,
    "locker-deopt": 30,
    "sweeper-races": 20,
    # its deopts stop the world in real time, about a second a schedule: a few
    "deopt-mark-race": 5,
    # a mark-compact and a concurrent sweep at every pause: about a second a schedule on a loaded machine
    "json-parse-sweep": 3,
    # two sweeping threads over sweeper-races' workload: several seconds a
    # schedule on a loaded machine; the soak and docs/bugs/go-46500-*.md's
    # 30-schedule campaigns cover it further
    "sweep-done-race": 2,
    # .NET card marking (card_chunk_cells): four tasks, 1,200 ops, about a second a schedule
    "card-mark-stealing": 4,
}


def test_every_scenario_is_covered() -> None:
    assert set(SCHEDULES) == set(testbed.SCENARIOS)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("scenario", sorted(SCHEDULES))
def test_correct_model_has_no_violations_over_many_schedules(scenario: str) -> None:
    result = testbed.stress([scenario], seed=2026, schedules=SCHEDULES[scenario])
    assert result.schedules == SCHEDULES[scenario]
    assert result.ok, [f.to_json() for f in result.findings[:3]]
    stats = result.stats
    for counter in ("scavenges", "promoted", "store_buffer_flushes", "safepoints"):
        assert stats[counter] > 0, counter
    mutators = testbed.scenario_config(scenario).mutators
    assert stats["peak_mutator_threads"] == mutators
    assert stats["peak_os_threads"] >= mutators + 1  # the mutators + the main thread
