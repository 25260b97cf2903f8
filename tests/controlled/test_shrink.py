"""Shrinking a fault's trace: fewer preemptions, same invariant, still replays.

The cases are the seeds of test_fault_detection.py (repeated here: test
modules cannot import each other), less unlocked-steal, whose race the
shrinker barely reduces (183 -> 162 preemptions in its full 400 runs, 14 s).
Observed when the seeds were chosen: skip-flush 55 -> 1 preemptions,
unlocked-remset-insert 428 -> 8, store-buffer-overflow-drop 294 -> 0,
early-scavenge 56 -> 0, resume-before-workers-done 78 -> 2,
racy-forwarding 103 -> 8, promote-without-remset 157 -> 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import testbed
from testbed.faults import FAULTS
from testbed.sched import load_trace, write_trace
from testbed.shrink import replay, shrink

SHORT_MIXED = {"ops": 400, "gc_interval": 40}
SHORT_STORM = {"ops": 300}

CASES = [
    ("skip-flush", "mixed", 7, SHORT_MIXED),
    ("unlocked-remset-insert", "store-buffer-storm", 7, SHORT_STORM),
    ("store-buffer-overflow-drop", "store-buffer-storm", 7, SHORT_STORM),
    ("early-scavenge", "mixed", 7, SHORT_MIXED),
    ("resume-before-workers-done", "mixed", 7, SHORT_MIXED),
    ("racy-forwarding", "mixed", 7, SHORT_MIXED),
    ("promote-without-remset", "mixed", 7, SHORT_MIXED),
]

#: faults that need a preemption: with an empty tape (no preemption at all) they never happen
RACES = ("unlocked-remset-insert", "resume-before-workers-done", "racy-forwarding")
RACE_CASES = [case for case in CASES if case[0] in RACES]


def caught_by(fault: str) -> str:
    """The invariant the catalogue names first for ``fault`` (each case here is caught by it)."""
    return next(f.caught_by for f in FAULTS if f.name == fault).split(" / ")[0]


def fault_trace(fault: str, scenario: str, seed: int, overrides: dict[str, int]) -> dict:
    config = testbed.scenario_config(scenario, seed=seed, strategy="random", faults=frozenset({fault}), **overrides)
    result = testbed.run(config)
    assert result.violations and result.violations[0].invariant == caught_by(fault)
    return result.trace


@pytest.mark.parametrize(("fault", "scenario", "seed", "overrides"), CASES, ids=[c[0] for c in CASES])
def test_shrunk_trace_has_fewer_preemptions_and_replays_to_the_same_invariant(
    fault: str, scenario: str, seed: int, overrides: dict[str, int], tmp_path: Path
) -> None:
    trace = fault_trace(fault, scenario, seed, overrides)
    result = shrink(trace)
    assert result.invariant == caught_by(fault)
    assert result.before["preemptions"] == trace["preemptions"]
    assert result.after["preemptions"] < result.before["preemptions"]
    if fault in RACES:
        assert result.after["preemptions"] > 0, "a race needs at least one preemption"
    assert result.after["tape_length"] <= result.before["tape_length"]
    shrunk = result.trace
    assert shrunk["violation"]["invariant"] == caught_by(fault)
    assert shrunk["preemptions"] == result.after["preemptions"]
    # The shrunk trace is a valid trace file, and replaying it gives its own violation back.
    path = tmp_path / "shrunk.json"
    write_trace(path, shrunk)
    outcome = replay(load_trace(path), times=3)
    assert outcome.expected == (caught_by(fault), shrunk["violation"]["step"])
    assert outcome.matches == 3


@pytest.mark.parametrize(("fault", "scenario", "seed", "overrides"), RACE_CASES, ids=[c[0] for c in RACE_CASES])
def test_race_faults_are_harmless_without_preemptions(
    fault: str, scenario: str, seed: int, overrides: dict[str, int]
) -> None:
    config = testbed.scenario_config(scenario, seed=seed, strategy="replay", faults=frozenset({fault}), **overrides)
    calm = testbed.run(config, tape=[])
    assert calm.ok, [v.to_json() for v in calm.violations]
    assert calm.trace["preemptions"] == 0


def test_shrink_refuses_a_trace_without_violation() -> None:
    trace = testbed.run(testbed.scenario_config("mixed", seed=7, strategy="random", **SHORT_MIXED)).trace
    with pytest.raises(ValueError, match="records no violation"):
        shrink(trace)


def test_cli_shrink_writes_a_trace_that_replays(cli, tmp_path: Path) -> None:
    original, shrunk = tmp_path / "t.json", tmp_path / "small.json"
    args = "run --scenario mixed --strategy random --seed 7 --fault early-scavenge --ops 400 --gc-interval 40"
    ran = cli(*args.split(), "--trace-out", str(original))
    assert ran.code == 1, ran
    outcome = cli("shrink", str(original), "-o", str(shrunk))
    assert outcome.code == 1, outcome
    assert "world-stopped still reproduces" in outcome.out
    assert "preemptions" in outcome.out
    before, after = load_trace(original), load_trace(shrunk)
    assert after["preemptions"] < before["preemptions"]
    replayed = cli("replay", str(shrunk), "--times", "2")
    assert replayed.code == 1, replayed
    assert "reproduced 2/2" in replayed.out
