"""Exit status 0 / 1 and the reproduce line (docs/design.md, 'Command line')."""

from __future__ import annotations

import re
import shlex

import pytest

import testbed


def _reproduce_lines(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\s*reproduce: (testbed run .*)$", text, re.MULTILINE)]


def test_run_on_the_correct_model_exits_0(cli) -> None:
    outcome = cli("run", "--ops", "200")
    assert outcome.code == 0, outcome
    assert "no violations" in outcome.out
    assert outcome.err == ""


@pytest.mark.parametrize("scenario", [*sorted(testbed.SCENARIOS), "all"])
def test_stress_on_the_correct_model_exits_0(cli, scenario: str) -> None:
    outcome = cli("stress", "--scenario", scenario, "--schedules", "3", "--ops", "200", "--quiet")
    assert outcome.code == 0, outcome
    assert "3 schedules" in outcome.out
    assert "no violations" in outcome.out


def test_stress_with_a_caught_fault_exits_1_and_names_the_invariant(cli, caught) -> None:
    outcome = cli("stress", *caught.args)
    assert outcome.code == 1, outcome
    assert caught.invariant in outcome.out
    lines = _reproduce_lines(outcome.out)
    assert lines, outcome.out
    for line in lines:
        assert f"--scenario {caught.scenario}" in line
        assert f"--fault {caught.fault}" in line
        assert "--ops 300" in line  # overrides are repeated so the rerun is the same workload
        assert re.search(r"--seed \d+", line)


def test_reproduce_command_reruns_the_schedule_and_exits_1(cli, caught) -> None:
    found = cli("stress", *caught.args)
    assert found.code == 1, found
    line = _reproduce_lines(found.out)[0]
    words = shlex.split(line)
    assert words[:2] == ["testbed", "run"]
    rerun = cli(*words[1:])
    assert rerun.code == 1, rerun
    assert caught.invariant in rerun.out
    # the rerun prints the same command for itself
    assert _reproduce_lines(rerun.out) == [line]


def test_run_with_a_caught_fault_exits_1(cli, caught) -> None:
    outcome = cli("run", "--scenario", caught.scenario, "--fault", caught.fault, "--ops", "300", "--seed", "5")
    assert outcome.code == 1, outcome
    assert "VIOLATION" in outcome.out
    assert caught.invariant in outcome.out
    assert _reproduce_lines(outcome.out)[0].startswith(
        f"testbed run --scenario {caught.scenario} --seed 5 --strategy free --fault {caught.fault}"
    )


def test_the_same_fault_twice_is_one_fault(cli, caught) -> None:
    outcome = cli(
        "run", "--scenario", caught.scenario, "--fault", caught.fault, "--fault", caught.fault, "--ops", "300"
    )
    assert outcome.code == 1, outcome
    assert _reproduce_lines(outcome.out)[0].count("--fault") == 1


@pytest.mark.parametrize("strategy", ["random", "pct"])
@pytest.mark.parametrize("command", ["run", "stress"])
def test_controlled_strategies_on_the_correct_model_exit_0(cli, command: str, strategy: str) -> None:
    extra = ("--schedules", "2") if command == "stress" else ()
    outcome = cli(command, "--strategy", strategy, "--ops", "50", *extra)
    assert outcome.code == 0, outcome
    assert f"strategy {strategy}" in outcome.out
