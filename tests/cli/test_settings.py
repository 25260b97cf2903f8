"""``--set NAME=VALUE``: every Config knob on the command line, so reproduce
commands can carry any setting (issue 9 item 2)."""

from __future__ import annotations

import pytest


def _reproduce_lines(text: str) -> list[str]:
    return [line.strip().removeprefix("reproduce: ") for line in text.splitlines() if "reproduce: " in line]


def test_set_knobs_reach_the_run_and_its_reproduce_command(cli, caught) -> None:
    ran = cli(
        "run",
        "--scenario",
        caught.scenario,
        "--fault",
        caught.fault,
        "--ops",
        "300",
        "--set",
        "switch_interval=none",
        "--set",
        "mix.barrier_store=50",
        "--set",
        "concurrent_sweeping=true",
    )
    assert ran.code == 1, ran
    line = _reproduce_lines(ran.out)[0]
    assert line.endswith(
        "--ops 300 --set concurrent_sweeping=true --set mix.barrier_store=50 --set switch_interval=none"
    ), line
    rerun = cli(*line.split()[1:])
    assert rerun.code == 1 and _reproduce_lines(rerun.out) == [line], rerun


@pytest.mark.parametrize(
    ("setting", "needles"),
    [
        ("pct_depth=0", ["pct_depth", "0"]),
        ("pct_depth=x", ["--set pct_depth", "'x'"]),
        ("switch_interval=fast", ["--set switch_interval", "or none"]),
        ("concurrent_sweeping=yes", ["--set concurrent_sweeping", "true or false"]),
        ("mix.nope=1", ["mix.nope", "unknown mix weight"]),
        ("no_such_knob=1", ["unknown config field 'no_such_knob'"]),
        ("faults=skip-flush", ["use --fault"]),
        ("seed", ["NAME=VALUE", "'seed'"]),
    ],
)
def test_a_bad_setting_is_a_one_line_error(cli, usage_error, setting: str, needles: list[str]) -> None:
    usage_error(cli("run", "--set", setting), *needles)
    usage_error(cli("stress", "--schedules", "1", "--set", setting), *needles)


def test_a_mix_setting_takes_one_scenario_in_stress(cli, usage_error) -> None:
    usage_error(cli("stress", "--scenario", "all", "--schedules", "1", "--set", "mix.alloc=1"), "--set mix")
