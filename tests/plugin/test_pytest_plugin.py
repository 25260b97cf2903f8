"""The pytest plugin: options, fixtures, and a report section with the reproduce command."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import testbed
from testbed.runtime import load_program

pytest_plugins = ["pytester"]

#: load the plugin by module whether or not the package's entry point is installed
PLUGIN_ARGS = ("-p", "no:testbed", "-p", "testbed.pytest_plugin")


def test_a_violation_fails_the_test_with_trace_and_replay_command(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import testbed

        def test_remset(testbed_runner):
            config = testbed.scenario_config(
                "store-buffer-storm", ops=300, faults=frozenset({"store-buffer-overflow-drop"})
            )
            testbed_runner.check(config)
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "--testbed-schedules", "3", "--testbed-seed", "5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*remset-complete*", "*reproduce: testbed replay *trace-store-buffer-storm-*.json*"])
    result.stdout.fnmatch_lines(["*- testbed -*", "remset-complete at step *"])


def test_the_correct_model_passes_and_options_reach_the_runner(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import testbed

        def test_clean(testbed_runner):
            assert (testbed_runner.seed, testbed_runner.strategy, testbed_runner.schedules) == (9, "pct", 2)
            results = testbed_runner.check(testbed.scenario_config("mixed", ops=200))
            assert len(results) == 2 and all(r.ok for r in results)

        def test_isolate(testbed_isolate):
            isolate = testbed_isolate(mutators=1, ops=0)
            assert len(isolate.mutators) == 1
        """
    )
    result = pytester.runpytest_subprocess(
        *PLUGIN_ARGS, "--testbed-seed", "9", "--testbed-strategy", "pct", "--testbed-schedules", "2"
    )
    result.assert_outcomes(passed=2)


PROGRAM_TESTS = """
import testbed


def holder_program(m):
    with m.scope():
        holder = m.alloc(fields=2, old=True)
        for _ in range(1000):
            m.store(holder, m.rng.randrange(2), m.alloc(fields=1))
            m.poll()


def make_closure():
    def program(m):
        holder_program(m)

    return program


def test_module_program(testbed_runner):
    testbed_runner.check(testbed.Config(program=holder_program, faults=frozenset({"skip-flush"})))


def test_closure_program(testbed_runner):
    testbed_runner.check(testbed.Config(program=make_closure(), faults=frozenset({"skip-flush"})))
"""


def _reproduce_lines(text: str) -> list[str]:
    return [line.split("reproduce: ", 1)[1] for line in text.splitlines() if line.startswith("  reproduce: ")]


def test_the_reported_line_reproduces_the_failure_of_a_custom_program(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The report section's reproduce line is pasted and run: exit 1 / the violation again."""
    path = pytester.makepyfile(test_programs=PROGRAM_TESTS)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS, "--testbed-schedules", "1", "--testbed-seed", "1")
    result.assert_outcomes(failed=2)
    module_line, closure_line = _reproduce_lines(result.stdout.str())[-2:]

    # An importable program: the trace names it and `testbed replay` imports it again, from anywhere.
    words = shlex.split(module_line)
    assert words[:2] == ["testbed", "replay"], module_line
    root = str(Path(testbed.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-m", "testbed", *words[1:]],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
        cwd=tmp_path_factory.mktemp("elsewhere"),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "reproduced 1/1" in done.stdout

    # A closure: the Python call, with the same function in scope.
    assert closure_line.startswith("testbed.replay(") and closure_line.endswith(", program=program)"), closure_line
    program = load_program(f"{path}:make_closure")()
    outcome = eval(closure_line, {"testbed": testbed, "program": program})
    assert outcome.matches == 1 and outcome.results[0].violations[0].invariant == "store-buffers-flushed"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--testbed-schedules", "0", "--testbed-schedules must be an integer >= 1, got 0"),
        (
            "--testbed-strategy",
            "hypothesis",
            "--testbed-strategy must be one of random, pct, pos, surw, portfolio, free",
        ),
        ("--testbed-seed", "x", "--testbed-seed must be an integer >= 0, got 'x'"),
    ],
)
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, option: str, value: str, message: str) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_inprocess(*PLUGIN_ARGS, option, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])
