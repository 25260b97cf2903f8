"""testbed.strategies: Hypothesis finds races and shrinks them to minimal schedules."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

import testbed
from testbed.strategies import ModelMachine, configs, schedules, tape_from_preemptions

TestModelMachine = ModelMachine.TestCase
TestModelMachine.settings = settings(max_examples=25, stateful_step_count=40, deadline=None, database=None)


def test_tape_from_preemptions_puts_each_switch_after_its_gap() -> None:
    assert tape_from_preemptions([(2, 1), (0, 3)]) == [0, 0, 1, 3]
    assert tape_from_preemptions([]) == []


@settings(max_examples=20, deadline=None, database=None)
@given(tape=schedules(max_preemptions=5, max_gap=10, max_choice=2))
def test_schedules_have_at_most_the_requested_preemptions(tape: list[int]) -> None:
    assert sum(1 for d in tape if d) <= 5
    assert all(0 <= d <= 2 for d in tape)


@settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(config=configs(scenarios=["mixed"], ops=150), tape=schedules(max_preemptions=8, max_gap=300))
def test_correct_model_passes_any_drawn_schedule(config: testbed.Config, tape: list[int]) -> None:
    assert config.strategy == "replay"
    assert testbed.run(config, tape=tape).ok


@pytest.mark.timeout(300)
def test_hypothesis_shrinks_an_unlocked_remset_race_to_few_preemptions() -> None:
    config = testbed.scenario_config(
        "store-buffer-storm", seed=5, ops=300, strategy="replay", faults=frozenset({"unlocked-remset-insert"})
    )

    def breaks_remset(tape: list[int]) -> bool:
        result = testbed.run(config, tape=tape)
        return bool(result.violations) and result.violations[0].invariant == "remset-complete"

    minimal = find(
        schedules(),
        breaks_remset,
        settings=settings(
            max_examples=300, database=None, deadline=None, derandomize=True, phases=[Phase.generate, Phase.shrink]
        ),
    )
    assert breaks_remset(minimal)
    assert sum(1 for d in minimal if d) <= 2


def test_stress_with_the_hypothesis_strategy_reports_one_shrunk_finding() -> None:
    result = testbed.stress(
        ["store-buffer-storm"],
        schedules=60,
        strategy="hypothesis",
        faults=["unlocked-remset-insert"],
        overrides={"ops": 300},
    )
    assert result.failed_schedules == 1
    finding = result.findings[0]
    assert finding.violation.invariant == "remset-complete"
