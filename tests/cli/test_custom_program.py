"""Custom programs on the CLI (issue 9 item 1): ``--program MODULE:FUNCTION`` or
``--program FILE.py:FUNCTION``; traces record the reference, so replay, shrink,
timeline and ``--explain`` work on them by importing it again.

The program is the one a user would write first: an old holder, young values
stored into it (write barrier, store buffer), a poll per iteration.  With
``skip-flush`` and ``--strategy random --seed 1`` a pause starts with unflushed
store buffers (``store-buffers-flushed``) on the Config defaults (no scenario).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

import testbed

TIMEOUT = 60

PROGRAM = """\
def program(m):
    with m.scope():
        holder = m.alloc(fields=2, old=True)
        for _ in range(1000):
            m.store(holder, m.rng.randrange(2), m.alloc(fields=1))
            m.poll()
"""

RUN = ("run", "--fault", "skip-flush", "--strategy", "random", "--seed", "1")


@pytest.fixture(scope="module")
def module_env() -> dict[str, str]:
    """The environment for ``python -m testbed``: this checkout's package first on the path."""
    root = str(Path(testbed.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture(scope="module")
def env_here(module_env: dict[str, str]) -> dict[str, str]:
    """PYTHONPATH=. (the work directory, where myload.py is) before this checkout."""
    return {**module_env, "PYTHONPATH": os.pathsep.join([".", module_env["PYTHONPATH"]])}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, env_here: dict[str, str], testbed_process) -> Path:
    """myload.py, and the traces of its run as a module (t.json) and as a file (f.json)."""
    path = tmp_path_factory.mktemp("work")
    (path / "myload.py").write_text(PROGRAM)
    for reference, trace in (("myload:program", "t.json"), ("myload.py:program", "f.json")):
        ran = testbed_process(env_here, path, *RUN, "--program", reference, "--trace-out", trace, "--json", f"r{trace}")
        assert ran.returncode == 1, ran.stdout + ran.stderr
        assert "store-buffers-flushed" in ran.stdout
    return path


def _one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("testbed: error: ")
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_run_replay_shrink_timeline_of_a_module_program(testbed_process, env_here, workdir: Path) -> None:
    result = json.loads((workdir / "rt.json").read_text())
    assert (result["scenario"], result["program"]) == (None, "myload:program")
    assert result["violations"][0]["reproduce"] == "testbed replay t.json"
    trace = json.loads((workdir / "t.json").read_text())
    assert trace["program"] == trace["config"]["program"] == "myload:program"
    assert trace["config"]["scenario"] is None  # no scenario ran: no label pretends one did

    replayed = testbed_process(env_here, workdir, "replay", "t.json", "--times", "5")
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "reproduced 5/5" in replayed.stdout

    shrunk = testbed_process(env_here, workdir, "shrink", "t.json", "-o", "s.json")
    assert shrunk.returncode == 1, shrunk.stdout + shrunk.stderr
    assert json.loads((workdir / "s.json").read_text())["program"] == "myload:program"
    again = testbed_process(env_here, workdir, "replay", "s.json")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "reproduced 1/1" in again.stdout

    drawn = testbed_process(env_here, workdir, "timeline", "s.json", "-o", "tl.json")
    assert drawn.returncode == 0, drawn.stderr
    timeline = json.loads((workdir / "tl.json").read_text())
    assert timeline["metadata"]["program"] == "myload:program"
    events = timeline["traceEvents"]
    assert any(e["ph"] == "X" for e in events) and all({"name", "ph", "pid"} <= set(e) for e in events)


def test_a_file_program_replays_from_another_directory(
    testbed_process, env_here, workdir: Path, tmp_path: Path
) -> None:
    recorded = json.loads((workdir / "f.json").read_text())["program"]
    assert recorded == f"{workdir / 'myload.py'}:program"  # made absolute when recorded
    replayed = testbed_process(env_here, tmp_path, "replay", str(workdir / "f.json"), "--times", "2")
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "reproduced 2/2" in replayed.stdout


def test_a_trace_whose_program_does_not_import_is_a_one_line_error(
    testbed_process, subprocess_env, workdir: Path, tmp_path: Path
) -> None:
    # myload is not on the path in another directory without PYTHONPATH=.
    for command in (("replay", str(workdir / "t.json")), ("shrink", str(workdir / "t.json"), "-o", "s.json")):
        _one_line_error(testbed_process(subprocess_env, tmp_path, *command), "myload:program", "PYTHONPATH")


def test_run_with_explain_runs_the_program(testbed_process, env_here, workdir: Path) -> None:
    ran = testbed_process(env_here, workdir, *RUN, "--program", "myload:program", "--explain")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "no deopt in this run" in ran.stdout  # the program calls no optimized code
    assert "try another --seed" not in ran.stdout  # no seed makes it deopt


@pytest.mark.parametrize(
    ("reference", "needle"),
    [
        ("no_such_module_xyz:program", "No module named 'no_such_module_xyz'"),
        ("testbed:no_such_function", "has no attribute 'no_such_function'"),
        ("testbed:__version__", "is not callable"),
        ("missing_file.py:program", "no such file"),
        ("no-colon", "program reference must be"),
    ],
)
def test_a_program_that_does_not_import_is_a_one_line_error(cli, usage_error, reference: str, needle: str) -> None:
    usage_error(cli("run", "--program", reference, "--strategy", "random"), needle)
    usage_error(cli("stress", "--program", reference, "--schedules", "1"), needle)


def test_stress_of_a_program_reports_it_and_its_reproduce_command_names_it(
    testbed_process, env_here, workdir: Path
) -> None:
    args = ("--program", "myload:program", "--fault", "skip-flush", "--gc-interval", "7", "--schedules", "2")
    stressed = testbed_process(env_here, workdir, "stress", *args, "--json", "-")
    assert stressed.returncode == 1, stressed.stderr
    document = json.loads(stressed.stdout)
    assert document["scenario"] is None and document["program"] == "myload:program"
    assert document["violations"]
    words = shlex.split(document["violations"][0]["reproduce"])
    assert words[:4] == ["testbed", "run", "--program", "myload:program"]
    assert "--scenario" not in words and words[-2:] == ["--gc-interval", "7"]


def test_stress_reproduce_commands_carry_the_knobs_and_rerun(testbed_process, subprocess_env, tmp_path: Path) -> None:
    args = ("stress", "--mutators", "3", "--gc-interval", "7", "--fault", "skip-flush", "--schedules", "5")
    stressed = testbed_process(subprocess_env, tmp_path, *args, "--json", "-")
    assert stressed.returncode == 1, stressed.stderr
    violations = json.loads(stressed.stdout)["violations"]
    assert violations
    for violation in violations:
        assert "--mutators 3" in violation["reproduce"] and "--gc-interval 7" in violation["reproduce"]
    rerun = testbed_process(subprocess_env, tmp_path, *shlex.split(violations[0]["reproduce"])[1:])
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
