"""The explore marker: a test's own threads explored, its failure explained, saved and replayed from the printed line."""

from __future__ import annotations

import re
import shlex

import pytest

pytest_plugins = ["pytester"]

#: load the plugin by module whether or not the package's entry point is installed
PLUGIN_ARGS = ("-p", "no:testbed", "-p", "testbed.pytest_plugin")

LOST_UPDATE = """
import pytest
from testbed.sched import Thread, point

class Counter:
    x = 0

def increment(state):
    point("load", obj="x", write=False)
    seen = state.x
    point("store", obj="x", write=True)
    state.x = seen + 1

@pytest.mark.explore(strategy="pos", schedules=200)
def test_counter():
    state = Counter()
    threads = [Thread(target=increment, args=(state,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.x == 2

@pytest.mark.explore(strategy="uniform", schedules=20)
def test_alone(tmp_path):
    state = Counter()
    increment(state)
    assert state.x == 1 and tmp_path.is_dir()
"""


def test_a_failing_explored_test_is_explained_and_replays_from_its_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_lost=LOST_UPDATE)
    result = pytester.runpytest_inprocess(*PLUGIN_ARGS, "-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=1)
    output = result.stdout.str()
    assert "- testbed explore -" in output
    assert re.search(r"races with thread-\d: (load read|store write) x at test_lost.py:\d+", output), output
    line = re.search(r"^replay: pytest (--testbed-replay=\S+) (\S+)$", output, re.MULTILINE)
    assert line is not None, output
    again = pytester.runpytest_inprocess(*PLUGIN_ARGS, "-p", "no:randomly", *shlex.split(line.group(1)), line.group(2))
    again.assert_outcomes(failed=1)
    assert "in thread test_counter: AssertionError" in again.stdout.str()


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("schedules=0, colour=1", "unknown argument 'colour'"),
    ],
)
def test_a_bad_marker_is_a_one_line_usage_error(pytester: pytest.Pytester, marker: str, message: str) -> None:
    pytester.makepyfile(f"import pytest\n\n@pytest.mark.explore({marker})\ndef test_x():\n    pass\n")
    result = pytester.runpytest_inprocess(*PLUGIN_ARGS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_a_missing_replay_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess(*PLUGIN_ARGS, "--testbed-replay=nowhere.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--testbed-replay must name a saved schedule file" in result.stderr.str()
