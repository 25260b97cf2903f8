"""A trace knows what produced it: replays across a code change, an edited trace or a
nondeterministic workload exit 2 naming the cause, never "reproduced 0/1" and exit 0.

The fingerprint (``testbed.fingerprint``) hashes the model's code (its syntax,
not its comments or docstrings), the custom program's source file and the
trace's header fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import testbed
from testbed.fingerprint import model_hash, source_hash
from testbed.runtime import Mutator
from testbed.traces import CodeChanged

RUN = ("run", "--strategy", "pos", "--seed", "1", "--mutators", "2")

PROGRAM = """
def work(m):
    host = m.alloc(fields=1, old=True)
    value = m.alloc()
    m.store(host, 0, value)
    raise RuntimeError("found")
"""


def test_the_code_hash_ignores_comments_docstrings_and_layout() -> None:
    plain = "def f(x):\n    return x + 1\n"
    dressed = '"""Module."""\n\ndef f(x):  # add one\n    """Doc."""\n    return (x +\n            1)\n'
    assert source_hash(plain) == source_hash(dressed)
    assert source_hash(plain) != source_hash(plain.replace("1", "2"))


@pytest.fixture
def program_trace(cli, tmp_path: Path) -> tuple[Path, Path]:
    program = tmp_path / "prog.py"
    program.write_text(PROGRAM)
    trace = tmp_path / "t.json"
    ran = cli(*RUN, "--program", f"{program}:work", "--trace-out", str(trace))
    assert ran.code == 1, ran
    return program, trace


def test_a_trace_records_the_model_and_program_hashes(program_trace: tuple[Path, Path]) -> None:
    _, trace = program_trace
    fingerprint = json.loads(trace.read_text())["fingerprint"]
    assert fingerprint["model"] == model_hash()
    assert fingerprint["program"] == source_hash(PROGRAM)
    assert {"config", "strategy", "threads", "violation"} <= set(fingerprint)


def test_a_changed_program_is_refused_and_allowed_knowingly(cli, usage_error, program_trace: tuple[Path, Path]) -> None:
    program, trace = program_trace
    program.write_text(PROGRAM.replace('RuntimeError("found")', 'ValueError("found")'))
    usage_error(cli("replay", str(trace)), f"cannot replay {trace}", "the program's source", "--allow-changed-code")
    allowed = cli("replay", str(trace), "--allow-changed-code")
    assert allowed.code == 1, allowed  # the same step fails, with another exception
    assert "replaying across a change: the program's source" in allowed.err
    usage_error(cli("shrink", str(trace), "-o", str(trace.with_name("s.json"))), "the program's source")


def test_a_changed_model_is_refused_and_allowed_knowingly(cli, usage_error, program_trace: tuple[Path, Path]) -> None:
    _, trace = program_trace
    document = json.loads(trace.read_text())
    document["fingerprint"]["model"] = "0" * 16
    trace.write_text(json.dumps(document))
    usage_error(cli("replay", str(trace)), "the model's code (fingerprint 0000000000000000", "changed since")
    allowed = cli("replay", str(trace), "--allow-changed-code")
    assert allowed.code == 1, allowed
    assert "reproduced 1/1" in allowed.out
    assert "replaying across a change: the model's code" in allowed.err


FIRST_RUN = [True]


def fails_once(m: Mutator) -> None:
    """Reads outside state: fails the first time it runs in this process only."""
    m.alloc()
    if FIRST_RUN:
        FIRST_RUN.clear()
        raise RuntimeError("only once")


def test_a_replay_of_an_unchanged_trace_that_leaves_its_tape_blames_the_workload(tmp_path: Path) -> None:
    result = testbed.run(testbed.Config(program=fails_once, mutators=1, strategy="pos", seed=1))
    assert result.violations and result.trace is not None
    path = tmp_path / "once.json"
    testbed.sched.write_trace(path, result.trace)
    with pytest.raises(testbed.ReplayDivergedError, match="the workload is nondeterministic"):
        testbed.replay(path)


def test_the_api_raises_code_changed_naming_what(program_trace: tuple[Path, Path]) -> None:
    program, trace = program_trace
    program.write_text(PROGRAM + "\nX = 1\n")
    with pytest.raises(CodeChanged, match="the program's source"):
        testbed.replay(trace)
    assert testbed.replay(trace, allow_changed_code=True).changed
