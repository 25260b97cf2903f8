"""`testbed replay` and `testbed shrink` on traces that no longer fit their run.

Exit codes (docs/design.md, 'Command line', issue 8 item 4): 1 whenever a replay finds
a violation (the recorded one: "reproduced N/N"; another one: it says so),
0 only when clean, 2 with one line when the replay stops following the
trace's tape ("diverged at step N: ...") or the trace is a /1 trace.

The trace is written by `testbed run` (mixed, seed 7, skip-flush, 400 ops, a
collection every 40 allocations: ``store-buffers-flushed`` at the step the
pinned trace of tests/controlled/test_fault_detection.py records).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testbed.fingerprint import header_hashes
from testbed.sched import decode_tape, encode_tape, load_trace

#: the step of the recorded skip-flush violation (the pinned trace of
#: tests/controlled/test_fault_detection.py: the same config and seed)
STEP = load_trace(Path(__file__).resolve().parents[1] / "controlled" / "fault_traces" / "skip-flush.json")["violation"][
    "step"
]

RUN = ("run", "--scenario", "mixed", "--strategy", "random", "--seed", "7", "--ops", "400", "--gc-interval", "40")


@pytest.fixture
def trace_file(cli, tmp_path: Path) -> Path:
    path = tmp_path / "t.json"
    ran = cli(*RUN, "--fault", "skip-flush", "--trace-out", str(path))
    assert ran.code == 1, ran
    return path


@pytest.fixture
def clean_trace_file(cli, tmp_path: Path) -> Path:
    path = tmp_path / "clean.json"
    ran = cli(*RUN, "--trace-out", str(path))
    assert ran.code == 0, ran
    return path


def edit(path: Path, **changes: Any) -> Path:
    trace = json.loads(path.read_text()) | changes
    edited = path.with_name(f"edited-{path.name}")
    edited.write_text(json.dumps(trace))
    return edited


def recorded_as(path: Path, **changes: Any) -> Path:
    """The trace edited and fingerprinted again: as if its run had recorded ``changes`` (a verdict, ...)."""
    edited = edit(path, **changes)
    trace = json.loads(edited.read_text())
    trace["fingerprint"].update(header_hashes(trace))
    edited.write_text(json.dumps(trace))
    return edited


def flip(path: Path, entry: int) -> tuple[Path, tuple[int, int]]:
    """The trace with decision ``entry`` handing the turn to another thread; its recorded (runnable, thread)."""
    trace = json.loads(path.read_text())
    decisions, expected = decode_tape(trace["tape"])
    decisions[entry] = (decisions[entry] + 1) % expected[entry][0]
    tape = encode_tape((d, n, t) for d, (n, t) in zip(decisions, expected, strict=True))
    return recorded_as(path, tape=tape), expected[entry]


def test_a_faithful_replay_reproduces_and_exits_1(cli, trace_file: Path) -> None:
    outcome = cli("replay", str(trace_file), "--times", "2")
    assert outcome.code == 1, outcome
    assert f"expecting store-buffers-flushed at step {STEP}" in outcome.out
    assert "reproduced 2/2" in outcome.out
    assert "diverged" not in outcome.out and "not the recorded" not in outcome.out


@pytest.mark.parametrize("entry", [0, 9, 120])
def test_flipping_one_decision_exits_2_naming_the_step_of_divergence(
    cli, usage_error, trace_file: Path, entry: int
) -> None:
    flipped, (runnable, thread) = flip(trace_file, entry)
    names = json.loads(trace_file.read_text())["threads"]
    line = usage_error(
        cli("replay", str(flipped), "--times", "3"),
        f"replay of {flipped} diverged at step ",
        f": expected {runnable} runnable / thread {names[thread]}, found {runnable} runnable / thread ",
        f"(tape entry {entry})",
    )
    step = int(line.split("diverged at step ")[1].split(":")[0])
    assert step <= STEP, "noticed before the recorded violation"


def test_a_diverging_replay_with_json_to_stdout_writes_no_document(cli, usage_error, trace_file: Path) -> None:
    flipped, _ = flip(trace_file, 4)
    usage_error(cli("replay", str(flipped), "--json", "-"), "diverged at step", "(tape entry 4)")


def test_a_different_violation_than_recorded_exits_1_and_says_so(cli, trace_file: Path) -> None:
    recorded = {"invariant": "world-stopped", "step": 42, "thread": "mutator-0", "message": "m"}
    outcome = cli("replay", str(recorded_as(trace_file, violation=recorded)))
    assert outcome.code == 1, outcome
    assert "expecting world-stopped at step 42" in outcome.out
    assert "reproduced 0/1" in outcome.out
    assert (
        f"replay 1 found store-buffers-flushed at step {STEP}, not the recorded world-stopped at step 42" in outcome.out
    )


def test_the_same_invariant_at_another_step_is_not_a_reproduction(cli, trace_file: Path) -> None:
    recorded = {"invariant": "store-buffers-flushed", "step": STEP - 1, "thread": "mutator-0", "message": "m"}
    outcome = cli("replay", str(recorded_as(trace_file, violation=recorded)))
    assert outcome.code == 1, outcome
    assert "reproduced 0/1" in outcome.out
    assert (
        f"found store-buffers-flushed at step {STEP}, not the recorded store-buffers-flushed at step {STEP - 1}"
        in outcome.out
    )


def test_a_clean_trace_that_now_finds_a_violation_exits_1(cli, trace_file: Path) -> None:
    outcome = cli("replay", str(recorded_as(trace_file, violation=None)), "--json", "-")
    assert outcome.code == 1, outcome
    assert "expecting no violation" in outcome.err
    assert f"replay 1 found store-buffers-flushed at step {STEP}, not the recorded no violation" in outcome.err
    document = json.loads(outcome.out)
    assert document["reproduced"] == 0
    assert [v["invariant"] for v in document["violations"]][:1] == ["store-buffers-flushed"]


def test_a_clean_replay_of_a_clean_trace_exits_0(cli, clean_trace_file: Path) -> None:
    clean = cli("replay", str(clean_trace_file))
    assert clean.code == 0, clean
    assert "reproduced 1/1" in clean.out


@pytest.mark.parametrize(
    "field, value",
    [
        ("violation", {"invariant": "store-buffers-flushed", "step": STEP, "thread": "mutator-0", "message": "m"}),
        ("strategy", "pct"),
        ("threads", "reversed"),
    ],
)
def test_an_edited_trace_is_refused_naming_the_edited_field(
    cli, usage_error, clean_trace_file: Path, field: str, value: object
) -> None:
    if value == "reversed":
        value = json.loads(clean_trace_file.read_text())["threads"][::-1]
    edited = edit(clean_trace_file, **{field: value})
    usage_error(cli("replay", str(edited)), f"its {field} field is not what it was recorded with", "edited")


def test_a_version_1_trace_is_one_line_exit_2(cli, usage_error, trace_file: Path) -> None:
    decisions, _ = decode_tape(json.loads(trace_file.read_text())["tape"])
    old = edit(trace_file, schema="testbed.trace/1", tape=decisions)
    usage_error(cli("replay", str(old)), "testbed.trace/1", "testbed.trace/4", "record the run again")


def test_shrinking_a_diverging_trace_is_one_line_exit_2(cli, usage_error, trace_file: Path, tmp_path: Path) -> None:
    flipped, _ = flip(trace_file, 3)
    usage_error(
        cli("shrink", str(flipped), "-o", str(tmp_path / "small.json")),
        f"cannot shrink {flipped}: diverged at step",
        "(tape entry 3)",
    )
    assert not (tmp_path / "small.json").exists()


def test_a_shrunk_trace_keeps_a_full_checked_tape(cli, trace_file: Path, tmp_path: Path) -> None:
    small = tmp_path / "small.json"
    outcome = cli("shrink", str(trace_file), "-o", str(small), "--max-runs", "30")
    assert outcome.code == 1, outcome
    trace = json.loads(small.read_text())
    decisions, _ = decode_tape(trace["tape"])
    assert len(decisions) == sum(run[3] for run in trace["tape"]) > 0
    # Flipping any of its decisions is noticed: every decision carries its expectation.
    flipped, _ = flip(small, len(decisions) // 3)
    assert cli("replay", str(flipped)).code == 2
    replayed = cli("replay", str(small))
    assert replayed.code == 1 and "reproduced 1/1" in replayed.out
