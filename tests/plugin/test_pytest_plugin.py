"""The pytest plugin: options, fixtures, and a report section with the reproduce command."""

from __future__ import annotations

import pytest

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
