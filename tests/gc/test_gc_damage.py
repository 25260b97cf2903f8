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

Each case is a pinned seed of the ``pos`` strategy on the fault's catalogue
scenario, with ``world-stopped``, ``store-buffers-flushed`` and
``sweeper-paused-during-scavenge`` evaluated but not reported.
"""

from __future__ import annotations

import pytest

import testbed

PROTOCOL = frozenset({"world-stopped", "store-buffers-flushed", "sweeper-paused-during-scavenge"})

CASES = [
    # fault, scenario, seed, the heap invariant that fires first
    ("resume-before-workers-done", "store-buffer-storm", 1, "no-from-space-refs"),
    ("scavenge-while-sweeping", "sweeper-races", 3, "no-dangling"),
]


@pytest.mark.parametrize(("fault", "scenario", "seed", "invariant"), CASES, ids=[c[0] for c in CASES])
def test_fault_does_damage_a_heap_invariant_sees_with_protocol_checks_off(
    fault: str, scenario: str, seed: int, invariant: str
) -> None:
    config = testbed.scenario_config(
        scenario, seed=seed, strategy="pos", faults=frozenset({fault}), disabled_invariants=PROTOCOL
    )
    result = testbed.run(config)
    assert result.violations, f"{fault}: seed {seed} found nothing with the protocol checks off"
    assert result.violations[0].invariant == invariant, result.violations[0]


@pytest.mark.parametrize(("fault", "scenario", "seed", "invariant"), CASES, ids=[c[0] for c in CASES])
def test_protocol_check_names_the_cause_first(fault: str, scenario: str, seed: int, invariant: str) -> None:
    config = testbed.scenario_config(scenario, seed=seed, strategy="pos", faults=frozenset({fault}))
    result = testbed.run(config)
    assert result.violations
    expected = "world-stopped" if fault == "resume-before-workers-done" else "sweeper-paused-during-scavenge"
    assert result.violations[0].invariant == expected, result.violations[0]


def test_collector_and_sweeper_keep_no_record_for_the_checker() -> None:
    # The checks derive "a task or the sweeper is still running" from the
    # hooks those threads fire, not from fields kept for them.
    from testbed.gc import MarkCompact, ParallelScavenger, SerialScavenger

    assert not hasattr(ParallelScavenger(2), "active_tasks")
    assert not hasattr(SerialScavenger(), "active_tasks")
    sweeper = MarkCompact(concurrent_sweeping=True).sweeper
    assert not hasattr(sweeper, "history") and not hasattr(sweeper, "current")
