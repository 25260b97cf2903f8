"""A deopt entry that does not poll lets a scavenge move objects under it.

The deopt entry copies the activation's words into a frame description that
no GC visits and writes them back as the output frame
(``Mutator.describe_frame``; V8's ``DoComputeOutputFrames`` "relies on not
causing a GC").  With ``no-poll-in-deopt`` the thread leaves its runtime
call while a scavenge it did not wait for is running: a young word it copied
before the scavenger updated the frame is written back as a stale
from-space pointer.  The heap invariants see that with the protocol checks
(``world-stopped`` and the others) switched off.

The run is a pinned trace (tests/pinned_traces/no-poll-in-deopt-heap-only.json):
one ``pos`` schedule of ``deopt-storm`` (the fault's scenario) recorded with
the protocol checks off.  A model change re-records it (``PYTHONPATH=.
python tests/record_traces.py`` searches the config's seeds for the same
first invariant and message).
"""

from __future__ import annotations

import re
from pathlib import Path

import testbed
from testbed.runtime import Config
from testbed.sched import load_trace
from tests.controlled._same_schedule import control_run

#: the protocol checks ``bench/ablation.py`` switches off
PROTOCOL_CHECKS = frozenset({"world-stopped", "store-buffers-flushed", "sweeper-paused-during-scavenge"})
PINNED = Path(__file__).resolve().parent.parent / "pinned_traces" / "no-poll-in-deopt-heap-only.json"


def test_no_poll_in_deopt_writes_a_stale_from_space_pointer_into_the_output_frame() -> None:
    config = Config.from_json(load_trace(PINNED)["config"])
    assert (config.scenario, config.faults, config.disabled_invariants) == (
        "deopt-storm",
        frozenset({"no-poll-in-deopt"}),
        PROTOCOL_CHECKS,
    )
    outcome = testbed.replay(PINNED)
    assert outcome.matches == 1, outcome.lost
    first = outcome.results[0].violations[0]
    assert first.invariant == "no-from-space-refs", first
    # The stale word sits in a frame slot (a call's argument), not in a field or handle.
    assert re.search(r"mutator-\d frame \d+\[\d+\] -> #\d+, a zapped from-space object", first.message), first


def test_the_faulty_schedule_with_the_poll_is_clean() -> None:
    # The pinned run's decisions with the poll back, up to the first operation
    # the correct deopt entry does differently; pos from there
    # (tests/controlled/_same_schedule.py).
    trace = load_trace(PINNED)
    control = control_run(Config.from_json(trace["config"]), tape=trace["tape"])
    assert control.left is not None and control.ops_followed > 0, control.describe()
    assert control.result.ok, (control.describe(), [v.to_json() for v in control.result.violations])
    assert control.result.stats["eager_deopts"] > 0 and control.result.stats["scavenges"] > 0
