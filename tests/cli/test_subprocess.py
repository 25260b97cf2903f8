"""``python -m testbed`` as a real process: version, exit status, clean errors."""

from __future__ import annotations

import json
import shlex

import testbed

TIMEOUT = 60


def test_version(testbed_process, subprocess_env) -> None:
    done = testbed_process(subprocess_env, None, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"testbed {testbed.__version__}"


def test_help(testbed_process, subprocess_env) -> None:
    done = testbed_process(subprocess_env, None, "--help")
    assert done.returncode == 0, done.stderr
    for command in ("run", "stress", "scenarios", "faults", "invariants"):
        assert command in done.stdout


def test_no_subcommand_lists_the_commands_with_an_example_each_and_exits_2(testbed_process, subprocess_env) -> None:
    """Bare ``testbed`` is bad usage (2, not 0: a script that lost its arguments must not pass as
    "no violation"), answered with what a person typing it wants: the commands, one example each."""
    done = testbed_process(subprocess_env, None)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    for command in ("run", "stress", "replay", "shrink", "timeline", "scenarios", "faults", "invariants"):
        assert f"testbed {command}" in done.stderr, command


def test_unknown_fault_is_a_one_line_error(testbed_process, subprocess_env) -> None:
    done = testbed_process(subprocess_env, None, "stress", "--fault", "no-such-fault", "--schedules", "1")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("testbed: error: ") and "no-such-fault" in done.stderr


def test_correct_model_exits_0_with_json(testbed_process, subprocess_env) -> None:
    done = testbed_process(subprocess_env, None, "stress", "--schedules", "2", "--ops", "200", "--json", "-")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["violations"] == []


def test_fault_exits_1_and_its_reproduce_command_exits_1(testbed_process, subprocess_env) -> None:
    args = ("--scenario", "store-buffer-storm", "--fault", "store-buffer-overflow-drop", "--ops", "300")
    done = testbed_process(subprocess_env, None, "stress", *args, "--schedules", "3")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "remset-complete" in done.stdout
    assert "Traceback" not in done.stderr
    line = next(line.strip() for line in done.stdout.splitlines() if line.strip().startswith("reproduce: "))
    words = shlex.split(line.removeprefix("reproduce: "))
    assert words[:2] == ["testbed", "run"]
    rerun = testbed_process(subprocess_env, None, *words[1:])
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    assert "remset-complete" in rerun.stdout
