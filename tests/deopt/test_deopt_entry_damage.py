"""A deopt entry that does not poll lets a scavenge move objects under it.

The deopt entry copies the activation's words into a frame description that
no GC visits and writes them back as the output frame
(``Mutator.describe_frame``; V8's ``DoComputeOutputFrames`` "relies on not
causing a GC").  With ``no-poll-in-deopt`` the thread leaves its runtime
call while a scavenge it did not wait for is running: a young word it copied
before the scavenger updated the frame is written back as a stale
from-space pointer.  The heap invariants see that with the protocol checks
(``world-stopped`` and the others) switched off.

The seed is one ``pos`` schedule of ``deopt-storm`` (the fault's scenario)
that shows this consequence; a model change that moves scheduling points can
move it (search seeds 1..80 for a frame slot reported as a zapped from-space
object).
"""

from __future__ import annotations

import re

import testbed

#: the protocol checks ``bench/ablation.py`` switches off
PROTOCOL_CHECKS = frozenset({"world-stopped", "store-buffers-flushed", "sweeper-paused-during-scavenge"})
SEED = 32


def _config(faults: frozenset[str]) -> testbed.Config:
    return testbed.scenario_config(
        "deopt-storm", seed=SEED, strategy="pos", faults=faults, disabled_invariants=PROTOCOL_CHECKS
    )


def test_no_poll_in_deopt_writes_a_stale_from_space_pointer_into_the_output_frame() -> None:
    result = testbed.run(_config(frozenset({"no-poll-in-deopt"})))
    first = result.violations[0]
    assert first.invariant == "no-from-space-refs", first
    # The stale word sits in a frame slot (a call's argument), not in a field or handle.
    assert re.search(r"mutator-\d frame \d+\[\d+\] -> #\d+, a zapped from-space object", first.message), first


def test_the_same_schedule_with_the_poll_is_clean() -> None:
    result = testbed.run(_config(frozenset()))
    assert result.ok, [v.to_json() for v in result.violations]
    assert result.stats["eager_deopts"] > 0 and result.stats["scavenges"] > 0
