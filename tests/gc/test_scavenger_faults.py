"""Each scavenger fault is caught by a fixed controlled schedule that replays exactly.

Every case is a seed of the ``random`` strategy on the ``mixed`` scenario
(default knobs: 4 mutators, 2 scavenger workers), found by searching seeds
and hardcoded with the invariant of the first violation it reported.  A
controlled run is a function of its config and the model's code, so the
same seed finds the same violation on every machine; the exact schedules
are pinned by the recorded traces of tests/controlled/test_fault_detection.py,
not here.

``unlocked-steal`` loses a published segment; its objects are copied but never
scanned.  Here they are only kept alive by remembered slots of unreachable
old hosts, so the after-scavenge walk from the roots does not meet their
stale fields; the next pause's remembered-set check does.
"""

from __future__ import annotations

import dataclasses

import pytest

import testbed
from testbed.shrink import replay


@dataclasses.dataclass(frozen=True)
class Case:
    fault: str
    seed: int
    #: the first violation's invariant, as observed
    invariant: str
    #: the invariants that may catch this fault at all
    acceptable: frozenset[str]

    def config(self, **changes: object) -> testbed.Config:
        values = {"seed": self.seed, "strategy": "random", "faults": frozenset({self.fault}), **changes}
        return testbed.scenario_config("mixed", **values)


CASES = [
    Case("racy-forwarding", 3, "forwarding-unique", frozenset({"forwarding-unique"})),
    Case(
        "unlocked-steal",
        8,
        "remset-complete",
        frozenset({"no-from-space-refs", "reachability-preserved", "remset-complete", "remset-precise"}),
    ),
    Case("promote-without-remset", 1, "remset-complete", frozenset({"remset-complete"})),
    Case("resume-before-workers-done", 1, "world-stopped", frozenset({"world-stopped"})),
]
IDS = [case.fault for case in CASES]

REPLAYS = 20


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fault_is_caught_by_its_invariant_and_replays_every_time(case: Case) -> None:
    result = testbed.run(case.config())
    assert result.violations, f"{case.fault}: seed {case.seed} found nothing"
    first = result.violations[0]
    assert first.invariant == case.invariant, first.to_json()
    assert first.invariant in case.acceptable
    assert result.trace is not None
    assert result.trace["violation"]["invariant"] == case.invariant
    outcome = replay(result.trace, times=REPLAYS)
    assert outcome.expected == (case.invariant, first.step)
    assert outcome.matches == REPLAYS


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_same_schedule_without_the_fault_is_clean(case: Case) -> None:
    result = testbed.run(case.config(faults=frozenset()))
    assert result.ok, [v.to_json() for v in result.violations]
    assert result.stats["scavenges"] > 0
