"""Two scavenger tasks evacuating the same object on two real threads.

A controlled replay tape runs task ``a`` through the "already forwarded?"
check, switches to ``b`` at a's first scheduling point (getting a to-space
LAB, before a's CAS), lets ``b`` evacuate the object completely, then
finishes ``a``.  With the CAS ``a`` loses: its copy is given up (Map.FREED)
and both tasks use b's copy.  With ``racy-forwarding`` (check-then-set) both
tasks "win" and the object has two live copies with the same logical id.
"""

from __future__ import annotations

from testbed.gc import Evacuator
from testbed.heap import NEW_TO, Kind, Map
from testbed.sched import ControlledScheduler, ReplayStrategy

#: launch -> a; a switches to b at its first point (after the forwarded check)
INTERLEAVE = [0, 1]


def race(run_threads, young_heap, faults: frozenset[str]):
    heap, allocator = young_heap()
    obj = allocator.allocate(Kind.PLAIN, 2)
    obj.fields[:] = [1, None]
    heap.new_space.flip()
    evacuators = {name: Evacuator(heap, faults, name) for name in ("a", "b")}
    results = {}

    def task(name: str) -> None:
        results[name] = evacuators[name].evacuate(obj)

    scheduler = ControlledScheduler(ReplayStrategy(INTERLEAVE))
    assert run_threads(scheduler, {name: (lambda n=name: task(n)) for name in evacuators}) == {}
    switches = [(thread, detail) for _, kind, thread, detail in scheduler.events if kind == "switch"]
    assert switches[0] == ("a", "b at new-space-lab"), "a was preempted between its check and its CAS"
    copies = [o for o in heap.young_objects() if o.lid == obj.lid]
    return obj, evacuators, results, copies


def test_forwarding_cas_race_has_exactly_one_winner_and_the_loser_frees_its_copy(run_threads, young_heap) -> None:
    obj, ev, results, copies = race(run_threads, young_heap, frozenset())
    winner = results["b"]
    assert results["a"] is winner, "the loser uses the winner's copy"
    assert obj.forwardee is winner
    assert (ev["a"].races_lost, ev["b"].races_lost) == (1, 0)
    assert (ev["a"].copied, ev["b"].copied) == (0, 1)
    assert (ev["a"].grey, ev["b"].grey) == ([], [winner]), "only the winner scans the copy"
    assert len(copies) == 2, "both tasks allocated a copy"
    (loser_copy,) = [c for c in copies if c is not winner]
    assert loser_copy.map_word is Map.FREED
    assert winner.map_word is Map.PLAIN and winner.page.owner == NEW_TO


def test_racy_forwarding_lets_both_tasks_win_with_two_copies_of_one_object(run_threads, young_heap) -> None:
    obj, ev, results, copies = race(run_threads, young_heap, frozenset({"racy-forwarding"}))
    a, b = results["a"], results["b"]
    assert a is not b and a.lid == b.lid == obj.lid
    assert (ev["a"].races_lost, ev["b"].races_lost) == (0, 0), "neither notices the race"
    assert (ev["a"].copied, ev["b"].copied) == (1, 1)
    assert (ev["a"].grey, ev["b"].grey) == ([a], [b])
    assert a.map_word is Map.PLAIN and b.map_word is Map.PLAIN, "no copy was given up"
    assert len(copies) == 2 and a in copies and b in copies
    assert obj.forwardee is a, "the last store wins the map word; b's references point at the other copy"
