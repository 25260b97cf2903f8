"""``testbed.stress()`` and ``testbed stress`` run the same scenario when none is named: the catalogue's default."""

from __future__ import annotations

import inspect

import testbed
from testbed.cli import build_parser
from testbed.cli.arguments import scenario_names


def test_stress_and_the_cli_default_to_the_catalogues_default_scenario() -> None:
    api_default = inspect.signature(testbed.stress).parameters["scenarios"].default
    cli_default = scenario_names(build_parser().parse_args(["stress", "--schedules", "1"]))
    assert list(api_default) == cli_default == [testbed.DEFAULT_SCENARIO]


def test_a_stress_without_scenarios_runs_the_default_one() -> None:
    result = testbed.stress(schedules=1, overrides={"ops": 100})
    assert result.scenarios == [testbed.DEFAULT_SCENARIO]
