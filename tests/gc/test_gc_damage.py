"""Two GC ordering bugs do heap damage the heap invariants see, with the protocol checks off.

``resume-before-workers-done``: a scavenger task returns as soon as it sees
no work, while another still copies and scans; the initiator, waiting only
for the first, zaps from-space under the other (forwarding addresses too)
and resumes the mutators, and fields still point into from-space.

``scavenge-while-sweeping``: the sweeper, not paused, frees a dead host
whose remembered slots a scavenger task is visiting; the task then reads a
slot of the freed object, or writes a copy's address into it (V8: into the
free list).  The sweeper
also clears slot-set cells by read-modify-write while the scavenger writes
them without the mutex, so a dropped slot can come back (remset-precise).

Each case replays a pinned trace (tests/pinned_traces/FAULT-heap-only.json):
one ``pos`` schedule of the fault's catalogue scenario, recorded with
``world-stopped``, ``store-buffers-flushed`` and
``sweeper-paused-during-scavenge`` evaluated but not reported.  A model
change re-records it (``PYTHONPATH=. python tests/record_traces.py``, which
searches the config's seeds for the same first invariant and message).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import testbed
from testbed.runtime import Config
from testbed.sched import load_trace

PROTOCOL = frozenset({"world-stopped", "store-buffers-flushed", "sweeper-paused-during-scavenge"})
PINNED = Path(__file__).resolve().parent.parent / "pinned_traces"

CASES = [
    # fault, its catalogue scenario, the heap invariant that fires first, the protocol check that names the cause
    ("resume-before-workers-done", "store-buffer-storm", "no-from-space-refs", "world-stopped"),
    ("scavenge-while-sweeping", "sweeper-races", "no-dangling", "sweeper-paused-during-scavenge"),
]
IDS = [case[0] for case in CASES]


def _pinned(fault: str) -> tuple[Path, dict]:
    path = PINNED / f"{fault}-heap-only.json"
    return path, load_trace(path)


@pytest.mark.parametrize(("fault", "scenario", "invariant", "protocol"), CASES, ids=IDS)
def test_fault_does_damage_a_heap_invariant_sees_with_protocol_checks_off(
    fault: str, scenario: str, invariant: str, protocol: str
) -> None:
    path, trace = _pinned(fault)
    config = Config.from_json(trace["config"])
    assert (config.scenario, config.strategy, config.faults) == (scenario, "pos", frozenset({fault}))
    assert config.disabled_invariants == PROTOCOL
    outcome = testbed.replay(path)
    assert outcome.matches == 1, outcome.lost
    assert outcome.results[0].violations[0].invariant == invariant == trace["violation"]["invariant"]


@pytest.mark.parametrize(("fault", "scenario", "invariant", "protocol"), CASES, ids=IDS)
def test_protocol_check_names_the_cause_first(fault: str, scenario: str, invariant: str, protocol: str) -> None:
    # The same schedule with the protocol checks reported: disabled checks are
    # still evaluated, so the run is the same up to the first report.
    _path, trace = _pinned(fault)
    config = Config.from_json(trace["config"]).replace(strategy="replay", disabled_invariants=frozenset())
    result = testbed.run(config, tape=trace["tape"])
    assert result.violations
    assert result.violations[0].invariant == protocol, result.violations[0]
    assert result.violations[0].step <= trace["violation"]["step"]


def test_collector_and_sweeper_keep_no_record_for_the_checker() -> None:
    # The checks derive "a task or the sweeper is still running" from the
    # hooks those threads fire, not from fields kept for them.
    from testbed.gc import MarkCompact, ParallelScavenger, SerialScavenger

    assert not hasattr(ParallelScavenger(2), "active_tasks")
    assert not hasattr(SerialScavenger(), "active_tasks")
    sweeper = MarkCompact(concurrent_sweeping=True).sweeper
    assert not hasattr(sweeper, "history") and not hasattr(sweeper, "current")
