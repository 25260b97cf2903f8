"""The Python side of custom programs (issue 9 item 1): ``testbed.replay(path,
program=fn)`` and ``testbed.shrink(path, out, program=fn)`` for a program that
cannot be imported (a closure, a lambda); traces say which program they need;
an importable program is imported again from the trace's reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import testbed
from testbed import Config, ConfigError
from testbed.runtime import Mutator, load_program, program_importable, program_reference
from testbed.sched import load_trace, write_trace


def holder_program(m: Mutator) -> None:
    """An old holder, young values stored into it, a poll per iteration."""
    with m.scope():
        holder = m.alloc(fields=2, old=True)
        for _ in range(1000):
            m.store(holder, m.rng.randrange(2), m.alloc(fields=1))
            m.poll()


def make_closure() -> testbed.runtime.Program:
    def program(m: Mutator) -> None:
        holder_program(m)

    return program


def _config(program: testbed.runtime.Program) -> Config:
    return Config(program=program, faults=frozenset({"skip-flush"}), strategy="random", seed=1)


@pytest.fixture(scope="module")
def closure_trace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, testbed.runtime.Program]:
    program = make_closure()
    result = testbed.run(_config(program))
    assert result.violations and result.trace is not None
    path = tmp_path_factory.mktemp("closure") / "t.json"
    write_trace(path, result.trace)
    return path, program


def test_replay_and_shrink_are_public() -> None:
    assert {"replay", "shrink"} <= set(testbed.__all__)
    assert callable(testbed.replay) and callable(testbed.shrink)
    from testbed.shrink import ReplayResult, ShrinkResult  # the module stays importable

    assert ReplayResult and ShrinkResult


def test_the_trace_names_the_closure_it_needs(closure_trace) -> None:
    path, _ = closure_trace
    trace = load_trace(path)
    assert trace["program"] == trace["config"]["program"]
    assert trace["program"].endswith(":make_closure.<locals>.program")


def test_replay_of_a_closure_trace_takes_the_program(closure_trace) -> None:
    path, program = closure_trace
    outcome = testbed.replay(path, program=program, times=2)
    assert outcome.matches == 2
    assert outcome.results[0].violations[0].invariant == "store-buffers-flushed"


def test_replay_of_a_closure_trace_without_the_program_says_what_to_pass(closure_trace) -> None:
    path, _ = closure_trace
    with pytest.raises(ConfigError, match=r"make_closure\.<locals>\.program.*program=fn"):
        testbed.replay(path)


def test_shrink_of_a_closure_trace_writes_a_trace_that_replays(closure_trace, tmp_path: Path) -> None:
    path, program = closure_trace
    out = tmp_path / "small.json"
    result = testbed.shrink(path, out, program=program, max_runs=60)
    assert result.after["preemptions"] <= result.before["preemptions"]
    assert load_trace(out)["program"] == load_trace(path)["program"]
    assert testbed.replay(out, program=program).matches == 1


def test_an_importable_program_is_imported_again_from_the_trace(tmp_path: Path) -> None:
    result = testbed.run(_config(holder_program))
    assert result.trace is not None and result.violations
    reference = result.trace["program"]
    # by module name when sys.path finds this test module, else by its file
    assert reference.endswith(":holder_program")
    path = tmp_path / "t.json"
    write_trace(path, result.trace)
    assert testbed.replay(path).matches == 1
    assert load_program(reference).__code__.co_filename == holder_program.__code__.co_filename


def test_the_reproduce_line_of_a_closure_is_a_python_call_that_reruns_it(closure_trace) -> None:
    _, program = closure_trace
    config = _config(program).replace(gc_interval=9)
    line = testbed.reproduce_command(config)
    assert line == (
        "testbed.run(testbed.Config(program=program, seed=1, strategy='random', faults=['skip-flush'], gc_interval=9))"
    )
    rerun = eval(line, {"testbed": testbed, "program": program})
    assert rerun.config == config
    assert testbed.run(config).trace == rerun.trace


def test_the_reproduce_line_of_an_importable_program_names_its_reference() -> None:
    result = testbed.run(_config(holder_program).replace(ops=0))
    assert result.reproduce == testbed.reproduce_command(result.config)
    assert f"--program {program_reference(holder_program)} " in result.reproduce
    assert program_importable(holder_program) and not program_importable(make_closure())


def test_a_file_program_is_referenced_by_its_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "load.py").write_text("def program(m):\n    m.poll()\n")
    monkeypatch.chdir(tmp_path)
    assert Config(program="load.py:program").program == f"{tmp_path / 'load.py'}:program"
    function = load_program("load.py:program")
    assert load_program(f"{tmp_path / 'load.py'}:program") is function  # one module per file
    assert program_reference(function) == f"{tmp_path / 'load.py'}:program"
    assert program_importable(function)


def test_program_on_a_standard_program_trace_is_refused(tmp_path: Path) -> None:
    result = testbed.run(testbed.scenario_config("mixed", ops=50, strategy="random"))
    assert result.trace is not None and result.trace["program"] is None
    write_trace(tmp_path / "t.json", result.trace)
    with pytest.raises(ConfigError, match="standard program"):
        testbed.replay(tmp_path / "t.json", program=holder_program)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: testbed.replay(42), "path"),
        (lambda: testbed.replay("t.json", times=0), "times"),
        (lambda: testbed.replay("t.json", program=5), "program"),
        (lambda: testbed.shrink("t.json", None), "out"),
        (lambda: testbed.shrink("t.json", "o.json", max_runs=0), "max_runs"),
        (lambda: Config(program=5), "program"),
        (lambda: Config(program="no-colon"), "program reference"),
        (lambda: testbed.run(Config(scenario="no-such-scenario")), "scenario"),
        (lambda: testbed.run(Config(program="no_such_module_xyz:f")), "no_such_module_xyz:f"),
    ],
)
def test_bad_arguments_raise_config_error_naming_the_field(call, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        call()


def test_a_config_without_a_scenario_is_labelled_none() -> None:
    assert Config().scenario is None
    assert testbed.scenario_config(None, gc_interval=3) == Config(gc_interval=3)
