"""Replays of the whole model that notice divergence (issue 8, item 4).

A trace's tape is checked decision by decision: flipping one decision makes
``testbed.run`` raise ``ReplayDivergedError`` naming the step and the tape
entry, promptly, with every thread of the run ended.  Plain decision lists
(Hypothesis tapes, shrink candidates, a user's list) run unchecked as before.

The recorded run is the skip-flush case of test_fault_detection.py (mixed,
seed 7, 400 ops, a collection every 40 allocations): about 550 decisions and
``store-buffers-flushed`` at the step its pinned trace records, in milliseconds.
"""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import testbed
from testbed.execute import _raise_halt
from testbed.runtime import ConfigError
from testbed.sched import Halt, ReplayDivergedError, ReplayStrategy, TraceError, decode_tape, encode_tape, load_trace

FAULT = frozenset({"skip-flush"})

#: the step of the recorded skip-flush violation (the pinned trace of
#: tests/controlled/test_fault_detection.py: the same config and seed)
STEP = load_trace(Path(__file__).resolve().parent / "fault_traces" / "skip-flush.json")["violation"]["step"]


def recorded(faults: frozenset[str] = FAULT) -> testbed.RunResult:
    config = testbed.scenario_config("mixed", seed=7, strategy="random", ops=400, gc_interval=40, faults=faults)
    result = testbed.run(config)
    assert result.trace is not None
    return result


def first(result: testbed.RunResult) -> tuple[str, int] | None:
    return (result.violations[0].invariant, result.violations[0].step) if result.violations else None


def replay_config(result: testbed.RunResult) -> testbed.Config:
    return result.config.replace(strategy="replay")


def flipped(trace: dict[str, Any], entry: int) -> list[list[int]]:
    """The trace's tape with decision ``entry`` handing the turn to another thread."""
    decisions, expected = decode_tape(trace["tape"])
    decisions[entry] = (decisions[entry] + 1) % expected[entry][0]
    return encode_tape((d, n, t) for d, (n, t) in zip(decisions, expected, strict=True))


def decision_steps(monkeypatch: pytest.MonkeyPatch, result: testbed.RunResult) -> list[int]:
    """The scheduling step of each decision of ``result``'s replay (the tape does not store them)."""
    steps: list[int] = []
    decide = ReplayStrategy.decide

    def spy(self: ReplayStrategy, step: int, *rest: Any) -> int:
        steps.append(step)
        return decide(self, step, *rest)

    with monkeypatch.context() as patch:
        patch.setattr(ReplayStrategy, "decide", spy)
        # Asked at every decision: no zeros taken below the scheduler's horizon.
        patch.setattr(ReplayStrategy, "quiet", lambda self, step, runnable, current: 0)
        testbed.run(replay_config(result), tape=result.trace["tape"])
    return steps


def test_the_recorded_trace_replays_checked_to_the_same_violation() -> None:
    result = recorded()
    replayed = testbed.run(replay_config(result), tape=result.trace["tape"])
    assert first(replayed) == ("store-buffers-flushed", STEP)
    for key in ("threads", "tape", "events", "model_events", "violation", "steps", "preemptions"):
        assert replayed.trace[key] == result.trace[key], key


@pytest.mark.parametrize("where", ["first", "middle", "preemption", "last-before-violation"])
def test_flipping_one_decision_raises_naming_the_step_and_entry(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    result = recorded()
    steps = decision_steps(monkeypatch, result)
    decisions, expected = decode_tape(result.trace["tape"])
    before_violation = [i for i, step in enumerate(steps) if step < STEP]
    entry = {
        "first": 0,
        "middle": before_violation[len(before_violation) // 2],
        "preemption": next(i for i in before_violation[1:] if decisions[i]),
        "last-before-violation": before_violation[-1],
    }[where]
    threads_before = set(threading.enumerate())
    started = time.monotonic()
    with pytest.raises(ReplayDivergedError) as info:
        testbed.run(replay_config(result), tape=flipped(result.trace, entry))
    elapsed = time.monotonic() - started
    error = info.value
    runnable, thread = expected[entry]
    names = result.trace["threads"]
    assert (error.step, error.entry, error.expected) == (steps[entry], entry, (runnable, thread))
    assert error.found is not None and error.found[0] == runnable and error.found[1] != thread
    assert str(error) == (
        f"diverged at step {steps[entry]}: expected {runnable} runnable / thread {names[thread]}, "
        f"found {runnable} runnable / thread {names[error.found[1]]} (tape entry {entry})"
    )
    # The run ended promptly, and with it every thread it started.
    assert elapsed < 5.0
    assert [t for t in threading.enumerate() if t not in threads_before and t.is_alive()] == []


def test_a_divergence_after_the_violation_leaves_the_violation_standing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The violation was found while the replay still followed its tape; the aborted run then unwound differently."""
    result = recorded()
    steps = decision_steps(monkeypatch, result)
    entry = next(i for i, step in enumerate(steps) if step > STEP)
    died: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    replayed = testbed.run(replay_config(result), tape=flipped(result.trace, entry))
    assert first(replayed) == ("store-buffers-flushed", STEP)
    assert died == [], "no thread may die of the divergence"


def test_a_clean_trace_with_its_tape_cut_short_diverges_where_the_run_wants_more() -> None:
    result = recorded(faults=frozenset())
    assert result.ok
    decisions, expected = decode_tape(result.trace["tape"])
    cut = len(decisions) - 40
    runs = encode_tape((d, n, t) for d, (n, t) in zip(decisions[:cut], expected[:cut], strict=True))
    with pytest.raises(ReplayDivergedError, match=rf"expected the tape's end \({cut} decisions\), found"):
        testbed.run(replay_config(result), tape=runs)


def test_a_tape_longer_than_the_run_diverges_at_the_run_end() -> None:
    result = recorded(faults=frozenset())
    runs = [*result.trace["tape"], [0, 2, 0, 3]]
    with pytest.raises(ReplayDivergedError, match="found the run's end") as info:
        testbed.run(replay_config(result), tape=runs)
    assert info.value.found is None
    assert info.value.step == result.trace["steps"]


def test_a_bare_list_of_decisions_still_runs_unchecked() -> None:
    result = recorded()
    decisions, _ = decode_tape(result.trace["tape"])
    # The same decisions, without expectations, give the same run.
    same = testbed.run(replay_config(result), tape=decisions)
    assert first(same) == ("store-buffers-flushed", STEP)
    # Any list of non-negative integers is a schedule: nothing to diverge from.
    for tape in ([], [5, 0, 3, 10**9] * 50, [1] * 5000):
        other = testbed.run(replay_config(result), tape=tape)
        assert other.trace is not None and other.trace["schema"] == "testbed.trace/4"


@pytest.mark.parametrize(
    ("tape", "needle"),
    [
        ([0, -1], "got entry 1: -1"),
        ([0, "1"], "got entry 1: '1'"),
        ([True], "got entry 0: True"),
        ([[0, 2, 1]], "tape: tape run 0 is not"),
        ([[3, 2, 0, 1]], "decision < runnable"),
        ([[0, 2, 0, 1], 5], "got entry 1: 5"),
        ([5, [0, 2, 0, 1]], "got entry 1: [0, 2, 0, 1]"),
    ],
)
def test_a_malformed_tape_is_a_config_error(tape: list[Any], needle: str) -> None:
    config = recorded().config.replace(strategy="replay")
    with pytest.raises(ConfigError, match="tape") as info:
        testbed.run(config, tape=tape)
    assert needle in str(info.value)


def test_replay_diverged_error_is_public_a_trace_error_and_picklable() -> None:
    assert testbed.ReplayDivergedError is ReplayDivergedError
    assert testbed.TraceError is TraceError
    # An ordinary Exception for callers (the halt inside the run is a BaseException).
    assert issubclass(ReplayDivergedError, TraceError) and issubclass(ReplayDivergedError, Exception)
    error = ReplayDivergedError("diverged at step 3: ...", 3, 1, (2, 0), (2, 1))
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.step, copy.entry, copy.expected, copy.found) == (str(error), 3, 1, (2, 0), (2, 1))


def test_another_non_liveness_halt_reaches_the_caller_as_an_exception() -> None:
    with pytest.raises(RuntimeError, match="the run was halted: stop"):
        _raise_halt(Halt("stop"), [])
