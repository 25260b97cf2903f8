"""The verifier is not a checker that cannot fail: collectors that corrupt the
heap in one specific way are caught by the invariant that names that way.

Each collector wraps the correct serial scavenger and breaks one thing a
scavenger must do (the corruption is injected by the test, not by a fault
switch); the control test runs the same program through the wrapper with no
corruption and finds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import testbed
from testbed.check import Checker, invariant_names
from testbed.deopt import TieringDeoptimizer
from testbed.gc import MarkCompact, SerialScavenger
from testbed.heap import HeapObject, Kind, Map, RememberedSet, Tagged
from testbed.runtime import Config, Isolate, Mutator
from testbed.sched import ControlledScheduler, RandomStrategy, running
from tests.controlled.test_fault_detection import CASES as PINNED_CASES

RunIsolate = Callable[..., Isolate]
#: young objects before the scavenge, by logical id
Young = dict[int, HeapObject]
#: every root area's values before the scavenge
Roots = list[list[Tagged]]


def graph_program(m: Mutator) -> None:
    """A small graph with every kind of root and an old-to-young edge, then three scavenges.

    host (old) .0 -> a (young) .0 -> b (young); a.1 = 7; global 0 -> b;
    frame slot 0 -> a; handles to host, a and b in the outer scope.  Finally
    host.1 -> a fresh young object.
    """
    host = m.alloc(2, old=True)
    a = m.alloc(2)
    b = m.alloc(1)
    m.store(host, 0, a)
    m.store(a, 0, b)
    m.store(a, 1, 7)
    m.set_global(0, b)
    m.enter_frame(2)
    m.frame_store(0, a)
    for _ in range(3):
        m.isolate.collect_garbage(m)
        m.poll()
    late = m.alloc(1)
    m.store(host, 1, late)  # an old-to-young slot still remembered at the end


class Corrupting(SerialScavenger):
    """SerialScavenger, then ``corrupt`` on the ``at``-th scavenge (1-based)."""

    def __init__(self, at: int = 1) -> None:
        self.inner = SerialScavenger()
        self.at = at
        self.runs = 0
        self.corrupted = False

    def scavenge(self, isolate: Isolate) -> None:
        self.runs += 1
        if self.runs != self.at:
            self.inner.scavenge(isolate)
            return
        young_before = {obj.lid: obj for obj in isolate.heap.young_objects()}
        roots_before = [list(area) for area in isolate.root_areas()]
        self.before(isolate)
        self.inner.scavenge(isolate)
        self.corrupted = self.corrupt(isolate, young_before, roots_before)

    def before(self, isolate: Isolate) -> None:
        """Hook run before the real scavenge."""

    def corrupt(self, isolate: Isolate, young_before: Young, roots_before: Roots) -> bool:
        """Break the scavenge's result; True when there was something to break."""
        return True


def remembered_slots(isolate: Isolate) -> list[tuple[HeapObject, int]]:
    return [slot for page in isolate.heap.old_space.pages for slot in RememberedSet.slots_of(page)]


def reachable(isolate: Isolate) -> list[HeapObject]:
    """Objects reachable from the roots, breadth first."""
    order: list[HeapObject] = []
    seen: set[int] = set()
    grey = [v for area in isolate.root_areas() for v in area if isinstance(v, HeapObject)]
    while grey:
        obj = grey.pop(0)
        if obj.lid not in seen:
            seen.add(obj.lid)
            order.append(obj)
            grey.extend(v for v in obj.fields if isinstance(v, HeapObject))
    return order


def reachable_edge(isolate: Isolate, moved: Young | None = None) -> tuple[HeapObject, int, HeapObject]:
    """A (host, index, value) reference reachable from the roots.

    With ``moved``, only a reference to an object this scavenge copied
    (its logical id was young before the scavenge).
    """
    for host in reachable(isolate):
        for index, value in enumerate(host.fields):
            if isinstance(value, HeapObject) and (
                moved is None or (value.lid in moved and moved[value.lid] is not value)
            ):
                return host, index, value
    raise AssertionError("no such reference is reachable")


class DropsARememberedSlot(Corrupting):
    """Forgets a still-needed old-to-young slot after scavenging."""

    def corrupt(self, isolate: Isolate, young_before: Young, roots_before: Roots) -> bool:
        for host, index in remembered_slots(isolate):
            host.page.slot_set.remove(host.slot_address(index))
            return True
        return False


class KeepsADeadRememberedSlot(Corrupting):
    """Leaves a slot in the remembered set that does not hold a young object."""

    def corrupt(self, isolate: Isolate, young_before: Young, roots_before: Roots) -> bool:
        for host in isolate.heap.old_objects():
            for index, value in enumerate(host.fields):
                if not isinstance(value, HeapObject):
                    isolate.heap.remembered_set.record(host, index)
                    return True
        return False


class SkipsARootUpdate(Corrupting):
    """Does not update one root slot: it still points at the old from-space copy."""

    def corrupt(self, isolate: Isolate, young_before: Young, roots_before: Roots) -> bool:
        for area, old in zip(isolate.root_areas(), roots_before, strict=True):
            for index, (now, then) in enumerate(zip(area, old, strict=True)):
                if now is not then and isinstance(then, HeapObject):
                    area[index] = then
                    return True
        return False


class LeavesAStaleField(Corrupting):
    """Does not update a field of a copied object: it still points into from-space."""

    def corrupt(self, isolate: Isolate, young_before: Young, roots_before: Roots) -> bool:
        host, index, value = reachable_edge(isolate, moved=young_before)
        host.fields[index] = young_before[value.lid]
        return True


class IgnoresTheRememberedSet(Corrupting):
    """Scavenges from the roots only, as if the remembered set were empty."""

    def before(self, isolate: Isolate) -> None:
        for page in isolate.heap.old_space.pages:
            for address in list(page.slot_set.addresses()):
                page.slot_set.remove(address)


class LosesAnEdge(Corrupting):
    """Copies an object but clears one of its reference fields."""

    def corrupt(self, isolate: Isolate, young_before: Young, roots_before: Roots) -> bool:
        host, index, _ = reachable_edge(isolate)
        host.fields[index] = None
        return True


class ChangesASmi(Corrupting):
    """Copies an object but changes a Smi field."""

    def corrupt(self, isolate: Isolate, young_before: Young, roots_before: Roots) -> bool:
        for host in reachable(isolate):
            for index, value in enumerate(host.fields):
                if isinstance(value, int):
                    host.fields[index] = value + 1
                    return True
        return False


class CopiesTwice(Corrupting):
    """Leaves two live copies of one object: one reference uses the second."""

    def corrupt(self, isolate: Isolate, young_before: Young, roots_before: Roots) -> bool:
        host, index, value = reachable_edge(isolate)
        heap = isolate.heap
        lab = heap.new_space.allocate_lab(value.size, value.size)
        assert lab is not None
        duplicate = heap.place(lab, Kind.PLAIN, list(value.fields), value.lid)
        assert duplicate is not None
        host.fields[index] = duplicate
        return True


class FreesALiveObject(Corrupting):
    """Poisons a reachable copy as freed (what a sweeper bug would do)."""

    def corrupt(self, isolate: Isolate, young_before: Young, roots_before: Roots) -> bool:
        _, _, value = reachable_edge(isolate)
        value.map_word = Map.FREED
        return True


CASES = [
    (DropsARememberedSlot(at=1), "remset-complete"),
    (KeepsADeadRememberedSlot(at=1), "remset-precise"),
    (SkipsARootUpdate(at=1), "no-from-space-refs"),
    (LeavesAStaleField(at=1), "no-from-space-refs"),
    (IgnoresTheRememberedSet(at=1), "no-from-space-refs"),
    (LosesAnEdge(at=1), "reachability-preserved"),
    (ChangesASmi(at=1), "reachability-preserved"),
    (CopiesTwice(at=1), "forwarding-unique"),
    (FreesALiveObject(at=1), "no-dangling"),
    # the same corruptions at a later scavenge, once objects have been promoted
    (SkipsARootUpdate(at=2), "no-from-space-refs"),
    (LosesAnEdge(at=2), "reachability-preserved"),
]


@pytest.mark.parametrize(("collector", "invariant"), CASES, ids=[f"{type(c).__name__}-at{c.at}-{i}" for c, i in CASES])
def test_the_verifier_catches_a_corrupting_collector(
    run_isolate: RunIsolate, collector: Corrupting, invariant: str
) -> None:
    assert invariant in invariant_names()
    isolate = run_isolate(Config(mutators=1, program=graph_program), collector=collector)
    assert collector.corrupted, "the corruption had nothing to act on"
    assert isolate.violations, "the corruption went unnoticed"
    # the invariant that names the corruption is the first one reported
    assert isolate.violations[0].invariant == invariant, [(v.invariant, v.message) for v in isolate.violations]
    # the first checkpoint after the corruption reports it and aborts the run
    assert isolate.is_aborted()


def test_the_same_program_through_an_honest_wrapper_has_no_violations(run_isolate: RunIsolate) -> None:
    collector = Corrupting(at=99)
    isolate = run_isolate(Config(mutators=1, program=graph_program), collector=collector)
    assert isolate.violations == []
    assert isolate.stats.scavenges == 3
    assert isolate.stats.promoted >= 2


def test_corruption_under_the_standard_workload_is_caught(run_isolate: RunIsolate) -> None:
    config = Config(seed=3, mutators=4, ops=600, gc_interval=30)
    isolate = run_isolate(config, collector=LosesAnEdge(at=2))
    assert "reachability-preserved" in {v.invariant for v in isolate.violations}


def test_run_end_verification_sees_a_zapped_reachable_object(run_isolate: RunIsolate) -> None:
    config = Config(mutators=1, program=graph_program)
    checker = Checker(config)
    isolate = run_isolate(config, observer=checker)
    assert isolate.violations == []
    assert checker.verifier.at_run_end(isolate) == []
    victim = reachable(isolate)[-1]
    victim.map_word = Map.ZAPPED
    assert "no-dangling" in {v.invariant for v in checker.verifier.at_run_end(isolate)}


def test_store_buffer_entries_count_as_remembered_only_at_run_end(run_isolate: RunIsolate) -> None:
    config = Config(mutators=1, program=graph_program)
    checker = Checker(config)
    isolate = run_isolate(config, observer=checker)
    [(host, index)] = remembered_slots(isolate)  # host.1 -> late
    host.page.slot_set.remove(host.slot_address(index))
    assert "remset-complete" in {v.invariant for v in checker.verifier.at_run_end(isolate)}
    isolate.mutators[0].store_buffer.entries.append((host, index))
    assert checker.verifier.at_run_end(isolate) == []
    # at a pause start every buffer must already be flushed
    invariants = {v.invariant for v in checker.verifier.at_pause_start(isolate)}
    assert {"remset-complete", "store-buffers-flushed"} <= invariants


class WeakListAsStrong(MarkCompact):
    """Treats the weak code list as strong roots: unused deoptimized code is never retired."""

    def _sweep(self, isolate: Isolate, marked: set[int], watermark: int) -> None:
        linked = {code.lid for code in isolate.heap.weak_code_list.entries()}
        super()._sweep(isolate, marked | linked, watermark)


def test_a_mark_compact_that_keeps_the_weak_list_alive_is_caught_by_weak_list_cleared() -> None:
    config = testbed.scenario_config("deopt-storm", seed=1, strategy="random", concurrent_sweeping=False)
    isolate = Isolate(config, SerialScavenger(), Checker(config), WeakListAsStrong(False, config.faults))
    isolate.deoptimizer = TieringDeoptimizer(isolate)
    with running(ControlledScheduler(RandomStrategy(1))):
        isolate.run()
    assert isolate.violations, "entries nobody uses stayed on the weak list unnoticed"
    first = isolate.violations[0]
    assert first.invariant == "weak-list-cleared", [(v.invariant, v.message) for v in isolate.violations]
    assert "still on the weak list" in first.message


#: faults whose first detector is an invariant no corruption above names first;
#: their seeds and expected first detectors are the pinned cases of
#: tests/controlled/test_fault_detection.py (one list to re-pin)
FAULT_FIRST = [
    case
    for case in PINNED_CASES
    if case.fault
    in {
        "early-scavenge",
        "skip-flush",
        "unlocked-weak-unlink",
        "stale-frame-code",
        "resume-without-disarm",
        "scavenge-while-sweeping",
    }
]


@pytest.mark.parametrize("case", FAULT_FIRST, ids=[case.fault for case in FAULT_FIRST])
def test_fault_is_first_reported_by_the_invariant(case: Any) -> None:
    result = testbed.run(case.config())
    assert result.violations and result.violations[0].invariant == case.invariant, [
        v.to_json() for v in result.violations
    ]


def test_unlocked_weak_unlink_can_be_first_reported_by_weak_list_wellformed() -> None:
    firsts = set()
    # Seed 21 is the first of 1..29 whose first report is weak-list-wellformed (re-pick when tapes move).
    for seed in (21,):
        config = testbed.scenario_config(
            "weak-list-churn", seed=seed, strategy="random", faults=frozenset({"unlocked-weak-unlink"})
        )
        result = testbed.run(config)
        if result.violations:
            firsts.add(result.violations[0].invariant)
    assert "weak-list-wellformed" in firsts, firsts


def test_every_heap_invariant_is_the_first_detector_of_a_fault_or_a_corruption() -> None:
    firsts = {invariant for _, invariant in CASES} | {case.invariant for case in FAULT_FIRST}
    firsts |= {"weak-list-cleared", "weak-list-wellformed"}  # the two tests just above
    assert firsts == set(invariant_names()) - {"model-error"}
