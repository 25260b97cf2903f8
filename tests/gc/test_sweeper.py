"""The sweeper: V8's RawSweep over page extents, its pause for scavenges, and the deoptimizer's wait.

Pins the mechanisms behind the faults ``deopt-overwrites-during-sweep``
(crbug.com/1228036) and ``scavenge-while-sweeping`` and shows the correct
model of them is clean: a header read mid-rewrite makes the sweeper free a
live object's tail, so the deoptimizer waits for the page; a scavenge
pauses the sweeper at a page boundary, and the sweeper's own record says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import testbed
from testbed.gc.sweeper import Sweeper
from testbed.heap import ZAP, Heap, Kind, Map, ThreadAllocator, byte_array_length_for, size_from_map
from testbed.runtime import Config
from testbed.sched import Condition, Lock, load_trace

SHORT = {"ops": 200}


def _old_objects(fields: list[int]) -> tuple[Heap, list]:
    heap = Heap(new_space_pages=1, page_words=128, lab_words=16)
    allocator = ThreadAllocator(heap)
    return heap, [allocator.allocate(Kind.PLAIN, n, old=True) for n in fields]


def test_a_byte_array_whose_length_word_was_overwritten_reads_smaller_than_it_is() -> None:
    _heap, [storage] = _old_objects([4])
    storage.map_word = Map.BYTE_ARRAY
    storage.fields[0] = byte_array_length_for(3)  # 3 data words: the size of a 3-element array
    assert size_from_map(storage) == storage.size == 5
    storage.fields[0] = 3  # the array's element count written over the byte length, map not yet replaced
    assert size_from_map(storage) == 3 < storage.size
    storage.map_word = Map.FIXED_ARRAY  # the map, written last, makes the header consistent again
    assert size_from_map(storage) == storage.size


def test_sweeping_a_page_frees_the_tail_of_a_live_object_whose_header_reads_too_small() -> None:
    heap, [dead, live, after] = _old_objects([2, 4, 2])
    live.map_word = Map.BYTE_ARRAY
    live.fields[:] = [3, 10, 11, 12]  # mid-rewrite: element count in the length word
    sweeper = Sweeper(Condition(Lock("test-sweeper"), "test-sweeper"))
    sweeper.prepare(heap)
    page, extent = sweeper._unswept[-1]
    sweeper._sweep_page(heap, page, extent, marked={live.lid, after.lid}, watermark=heap.next_lid())
    assert dead.map_word is Map.FREED, "unmarked: freed whole"
    assert live.map_word is Map.BYTE_ARRAY and live.fields[:2] == [3, 10], "the head the header covers survives"
    assert live.fields[2:] == [ZAP, ZAP], "the tail the header does not cover was freed"
    assert after.map_word is Map.PLAIN and ZAP not in after.fields


def test_a_consistent_header_frees_exactly_the_unmarked_objects() -> None:
    heap, objects = _old_objects([2, 3, 1, 2])
    sweeper = Sweeper(Condition(Lock("test-sweeper"), "test-sweeper"))
    sweeper.prepare(heap)
    page, extent = sweeper._unswept[-1]
    marked = {objects[1].lid, objects[3].lid}
    sweeper._sweep_page(heap, page, extent, marked, watermark=heap.next_lid())
    assert [obj.map_word for obj in objects] == [Map.FREED, Map.PLAIN, Map.FREED, Map.PLAIN]
    assert sweeper.freed == 2


@pytest.mark.timeout(120)
@pytest.mark.parametrize("strategy", ["free", "random", "pct"])
def test_the_sweeper_races_scenario_is_clean(strategy: str) -> None:
    result = testbed.stress(["sweeper-races"], seed=3, schedules=12, strategy=strategy, overrides=SHORT)
    assert result.ok, [f.to_json() for f in result.findings]
    checks = result.stats["checks_by_invariant"]
    assert checks["sweeper-paused-during-scavenge"] > 0


def test_a_scavenge_pauses_the_sweeper_between_pages_and_it_resumes_after() -> None:
    config = testbed.scenario_config("sweeper-races", seed=1, strategy="random", **SHORT)
    result = testbed.run(config)
    assert result.ok, result.violations
    paused = [e for e in result.events if e.kind == "sweeper-paused"]
    assert paused, "this seed's sweep is still going when a scavenge comes (re-pick the seed)"
    assert all(e.thread == "sweeper" for e in paused)
    done = [e for e in result.events if e.kind == "sweeper-done"]
    assert done and done[-1].step > paused[0].step, "the paused sweep was resumed and finished"
    assert result.stats["checks_by_invariant"]["sweeper-paused-during-scavenge"] > 0


def test_deopts_materialize_captured_arrays_through_old_byte_array_storage() -> None:
    config = testbed.scenario_config("sweeper-races", seed=2, strategy="random", **SHORT)
    result = testbed.run(config)
    assert result.ok, result.violations
    assert any(e.kind == "materialize-arrays" for e in result.events)


def test_without_the_wait_the_sweeper_frees_part_of_a_materialized_array() -> None:
    # A pinned trace (re-recorded by tests/record_traces.py after a model change).
    path = Path(__file__).resolve().parent.parent / "pinned_traces" / "deopt-overwrites-during-sweep-short.json"
    config = Config.from_json(load_trace(path)["config"])
    assert (config.scenario, config.faults) == ("sweeper-races", frozenset({"deopt-overwrites-during-sweep"}))
    outcome = testbed.replay(path)
    assert outcome.matches == 1, outcome.lost
    first = outcome.results[0].violations[0]
    # The freed tail reads the zap value until the free list hands it out again; then a slot the
    # mutator recorded there lies in no object (or in the new one).
    assert (first.invariant == "no-dangling" and "zap value" in first.message) or (
        first.invariant == "remset-precise" and "in no object" in first.message
    ), first
