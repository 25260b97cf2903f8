"""Calibrated campaigns: knob ranges from a probe run, one draw per schedule.

The draws are a function of the campaign seed and the schedule index, stay
inside the ranges the module documents, give valid configs for every
scenario, and leave alone what the probe says does not apply (sweeping
without mark-compacts, forced deopts without optimized code, the thread
count of a custom program).
"""

from __future__ import annotations

import pytest

import testbed
from testbed.calibrate import KNOBS, Calibration, calibration, knob_rng


def test_the_same_seed_and_index_draw_the_same_knobs_and_others_differ() -> None:
    config = testbed.scenario_config("waltz", strategy="pct")
    probed = Calibration(allocations_per_mutator=600, mark_compacts=3, optimizations=10)
    draws = [probed.knobs(config, knob_rng(11, i)) for i in range(40)]
    assert draws == [probed.knobs(config, knob_rng(11, i)) for i in range(40)]
    assert len({tuple(sorted(d.items())) for d in draws}) > 30
    assert all(set(d) == set(KNOBS) for d in draws)


@pytest.mark.parametrize("index", range(60))
def test_every_draw_is_inside_its_documented_range(index: int) -> None:
    config = testbed.scenario_config("waltz", strategy="portfolio")
    probed = Calibration(allocations_per_mutator=640, mark_compacts=1, optimizations=1)
    knobs = probed.knobs(config, knob_rng(3, index))
    assert knobs["gc_interval"] == 0 or 10 <= knobs["gc_interval"] <= 320
    assert 1 <= knobs["store_buffer_capacity"] <= 2 * config.store_buffer_capacity
    assert 0 <= knobs["scavenger_workers"] <= 4
    assert 2 <= knobs["mutators"] <= min(8, config.mutators + 2)
    assert knobs["deopt_every_n_times"] == 0 or 2 <= knobs["deopt_every_n_times"] <= 32
    assert 2 <= knobs["pct_depth"] <= 5
    assert isinstance(knobs["concurrent_sweeping"], bool)


def test_knobs_that_do_not_apply_are_left_as_the_config_has_them() -> None:
    config = testbed.scenario_config("mixed", strategy="random")
    quiet = Calibration(allocations_per_mutator=100, mark_compacts=0, optimizations=0)
    knobs = quiet.knobs(config, knob_rng(1, 0))
    assert not {"concurrent_sweeping", "deopt_every_n_times", "pct_depth"} & set(knobs)
    custom = testbed.Config(program="tests.runtime.test_calibrate:two_threads", mutators=2)
    assert "mutators" not in quiet.knobs(custom, knob_rng(1, 0))


def two_threads(m: testbed.Mutator) -> None:  # a custom program written for two threads
    with m.scope():
        m.alloc(2)


@pytest.mark.parametrize("scenario", sorted(testbed.SCENARIOS))
def test_the_probe_measures_each_scenario_and_its_draws_are_valid_configs(scenario: str) -> None:
    config = testbed.scenario_config(scenario, seed=1, strategy="random", ops=150)
    probed = calibration(config)
    assert probed.allocations_per_mutator > 0
    assert probed == calibration(config), "the probe is deterministic"
    for index in range(20):
        drawn = probed.draw(config, knob_rng(1, index))
        assert isinstance(drawn, testbed.Config)  # validated by Config itself
