"""Shrinking to a fixed point, and over the workload: on small traces, so a few seconds in all.

Before the fixed point (one ddmin pass), a --fault unlocked-remset-insert
trace of store-buffer-storm (seed 3, ops 60, gc interval 10, 3 mutators)
shrank to 11 preemptions and, shrunk again, to 8; now it goes to 8 at once
and a second shrink leaves the tape as it is.
"""

from __future__ import annotations

from typing import Any

import pytest

import testbed
from testbed.campaign import signature_of
from testbed.sched import decode_tape
from testbed.shrink import replay, shrink

pytestmark = pytest.mark.timeout(120)

SMALL = {"ops": 60, "gc_interval": 10, "mutators": 3}


def small_trace(fault: str, scenario: str, seed: int) -> dict[str, Any]:
    config = testbed.scenario_config(scenario, seed=seed, strategy="random", faults=frozenset({fault}), **SMALL)
    result = testbed.run(config)
    assert result.violations, f"{fault} seed {seed} no longer finds a violation: pick another seed"
    return result.trace


def key(result: testbed.RunResult) -> tuple[Any, ...] | None:
    if not result.violations:
        return None
    found = signature_of(result.violations[0], result.events)
    return found.invariant, found.operation, found.roles


def test_a_shrunk_trace_is_one_minimal_and_shrinking_it_again_changes_nothing() -> None:
    trace = small_trace("skip-flush", "mixed", 3)
    first = shrink(trace)
    assert first.minimal
    assert first.after["preemptions"] < first.before["preemptions"]
    again = shrink(first.trace)
    assert again.minimal
    assert again.trace["tape"] == first.trace["tape"]
    assert again.after == first.after
    # 1-minimal, checked here by runs of its own: zeroing any one nonzero decision loses the signature.
    config = testbed.Config.from_json(first.trace["config"]).replace(strategy="replay")
    decisions = decode_tape(first.trace["tape"])[0]
    target = (first.signature["invariant"], first.signature["operation"], tuple(first.signature["roles"]))
    nonzero = [i for i, d in enumerate(decisions) if d]
    assert nonzero
    for i in nonzero:
        assert key(testbed.run(config, tape=[*decisions[:i], 0, *decisions[i + 1 :]])) != target


def test_joint_shrinking_reduces_knobs_and_the_result_replays() -> None:
    trace = small_trace("skip-flush", "mixed", 3)
    result = shrink(trace, joint=True, max_runs=60)
    assert result.knobs, "no knob went down"
    config = testbed.Config.from_json(result.trace["config"])
    for name, (before, after) in result.knobs.items():
        assert after != before
        if not name.startswith("mix."):
            assert getattr(config, name) == after
    assert config.ops <= SMALL["ops"] and config.mutators <= SMALL["mutators"]
    outcome = replay(result.trace, times=2)
    assert outcome.matches == 2
