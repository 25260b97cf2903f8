"""testbed.strategies: Hypothesis finds races and shrinks them to minimal schedules."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _remset_campaign(database: object, schedules: int = 60) -> testbed.StressResult:
    return testbed.stress(
        ["store-buffer-storm"],
        schedules=schedules,
        strategy="hypothesis",
        faults=["unlocked-remset-insert"],
        overrides={"ops": 300},
        hypothesis_db=database,
    )


def test_stress_with_the_hypothesis_strategy_reports_one_shrunk_finding_and_remembers_it(tmp_path: Path) -> None:
    first = _remset_campaign(tmp_path / "db")
    assert first.failed_schedules == 1
    assert first.findings[0].violation.invariant == "remset-complete"
    assert first.schedules > 1
    # A clean campaign on the same database (other configs: no fault) leaves the failure alone.
    clean = testbed.stress(["store-buffer-storm"], schedules=2, strategy="hypothesis", hypothesis_db=tmp_path / "db")
    assert clean.ok
    # The rerun replays the saved failure before generating anything: its first schedule fails.
    again = _remset_campaign(tmp_path / "db")
    assert (again.schedules, again.failed_schedules) == (1, 1)
    assert again.findings[0].violation.invariant == "remset-complete"


def test_a_hypothesis_campaign_stops_when_its_duration_is_spent(tmp_path: Path) -> None:
    started = time.monotonic()
    result = testbed.stress(
        ["mixed"], duration=1.0, strategy="hypothesis", overrides={"ops": 200}, hypothesis_db=tmp_path / "db"
    )
    assert time.monotonic() - started < 6.0  # one schedule past the budget at most, not 100,000 examples
    assert result.ok and result.schedules >= 1
    # The example the stop interrupted did not fail: nothing is saved for the next campaign.
    assert not any(path.is_file() for path in (tmp_path / "db").rglob("*"))


def test_a_hypothesis_campaign_without_a_database_is_seeded() -> None:
    runs = [
        testbed.stress(
            ["mixed"], schedules=3, strategy="hypothesis", seed=4, overrides={"ops": 100}, hypothesis_db=None
        )
        for _ in range(2)
    ]
    assert runs[0].stats["points"] == runs[1].stats["points"]


@pytest.mark.parametrize(
    ("database", "problem"),
    [(42, "must be a directory path"), ("", "must be a directory path"), ("FILE", "is not a directory")],
)
def test_stress_refuses_a_bad_hypothesis_database(tmp_path: Path, database: object, problem: str) -> None:
    if database == "FILE":
        database = tmp_path / "file"
        database.write_text("")
    with pytest.raises(testbed.ConfigError, match=problem):
        testbed.stress(["mixed"], schedules=1, strategy="hypothesis", hypothesis_db=database)


def test_the_cli_campaign_keeps_its_database_under_out(tmp_path: Path, cli: Callable[..., Any]) -> None:
    out = tmp_path / "found"
    argv = ["stress", "--strategy", "hypothesis", "--scenario", "store-buffer-storm", "--fault"]
    argv += ["unlocked-remset-insert", "--ops", "300", "--schedules", "60", "--out", str(out), "--quiet"]
    assert cli(*argv).code == 1
    assert any(path.is_file() for path in (out / "hypothesis-db").rglob("*"))
    again = cli(*argv)
    assert again.code == 1
    assert "1 schedules in" in again.out and "1 failing" in again.out
