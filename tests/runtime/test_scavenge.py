"""The serial scavenge preserves the program's object graph and does what a
semispace scavenger must: copy survivors keeping their logical id, zap
from-space, promote objects below the age mark, keep exactly the old-to-young
slots in the remembered set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import testbed
from testbed.heap import NEW_TO, OLD, Heap, HeapObject, RememberedSet, is_old_to_young
from testbed.runtime import Config, Isolate, Mutator

RunIsolate = Callable[..., Isolate]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("scenario", ["mixed", "store-buffer-storm"])
def test_scavenge_preserves_the_shadow_graph(scenario: str, seed: int) -> None:
    config = testbed.scenario_config(scenario, seed=seed)
    result = testbed.run(config)
    assert result.violations == [], [v.message for v in result.violations]
    assert result.ok
    stats = result.stats
    for counter in ("scavenges", "promoted", "copied", "store_buffer_flushes", "safepoints", "remset_inserts"):
        assert stats[counter] > 0, counter
    assert stats["peak_mutator_threads"] == config.mutators
    # a verifier pass at every pause start, after every scavenge and at the end
    assert stats["checks"] == 2 * stats["scavenges"] + 1


@pytest.mark.parametrize("seed", [0, 1])
def test_scavenge_preserves_the_shadow_graph_with_frequent_gcs(small_config: Config, seed: int) -> None:
    result = testbed.run(small_config.replace(seed=seed))
    assert result.violations == [], [v.message for v in result.violations]
    assert result.stats["scavenges"] >= 5
    assert result.stats["peak_mutator_threads"] == small_config.mutators


def remembered(heap: Heap) -> set[tuple[int, int]]:
    """Every (host lid, field index) in the remembered set."""
    return {(host.lid, index) for page in heap.old_space.pages for host, index in RememberedSet.slots_of(page)}


def old_to_young(heap: Heap) -> set[tuple[int, int]]:
    """Every old-space field that holds a young object, found by walking old space."""
    return {
        (host.lid, index)
        for host in heap.old_objects()
        for index, value in enumerate(host.fields)
        if is_old_to_young(host, value)
    }


def test_scavenge_copies_zaps_promotes_and_remembers_exactly_the_old_to_young_slots(run_isolate: RunIsolate) -> None:
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        heap = m.isolate.heap
        stats = m.isolate.stats
        host = m.alloc(2, old=True)  # an old object: never moves
        a = m.alloc(2)
        b = m.alloc(1)
        m.store(host, 0, a)  # old -> young: through the store buffer into the remembered set
        m.store(a, 0, b)
        m.store(a, 1, 17)
        m.set_global(0, b)
        with m.scope():
            garbage = m.alloc(3)
            m.store(garbage, 0, a)
            garbage_raw = garbage.get()
        raw0 = {"host": host.get(), "a": a.get(), "b": b.get()}
        seen["lids"] = {name: obj.lid for name, obj in raw0.items()}
        seen["garbage_lid"] = garbage_raw.lid

        m.isolate.collect_garbage(m)  # scavenge 1: a and b are copied within new space
        raw1 = {"host": host.get(), "a": a.get(), "b": b.get()}
        seen["after1"] = {
            "same_lids": all(raw1[name].lid == raw0[name].lid for name in raw0),
            "host_unmoved": raw1["host"] is raw0["host"],
            "moved": all(raw1[name] is not raw0[name] for name in ("a", "b")),
            "owners": {name: obj.page.owner for name, obj in raw1.items()},
            "zapped": all(raw0[name].is_zapped for name in ("a", "b")),
            "garbage_zapped": garbage_raw.is_zapped,
            "garbage_copied": any(obj.lid == garbage_raw.lid for obj in heap.young_objects()),
            "edges": (raw1["host"].fields[0] is raw1["a"], raw1["a"].fields[0] is raw1["b"], raw1["a"].fields[1]),
            "global": m.get_global(0).get() is raw1["b"],  # type: ignore[union-attr]
            "below_age_mark": [heap.new_space.below_age_mark(obj.page, obj.offset) for obj in (raw1["a"], raw1["b"])],
            "copied": stats.copied,
            "promoted": stats.promoted,
            "remembered": remembered(heap),
            "old_to_young": old_to_young(heap),
        }

        d = m.alloc(1)  # allocated after scavenge 1: above the age mark
        m.store(a, 1, d)  # young host: no barrier needed
        raw_d = d.get()
        seen["d_lid"] = raw_d.lid
        seen["d_below_age_mark"] = heap.new_space.below_age_mark(raw_d.page, raw_d.offset)

        m.isolate.collect_garbage(m)  # scavenge 2: a and b survived once -> promoted; d copied
        raw2 = {"host": host.get(), "a": a.get(), "b": b.get(), "d": d.get()}
        seen["after2"] = {
            "owners": {name: obj.page.owner for name, obj in raw2.items()},
            "young": {name: obj.page.young for name, obj in raw2.items()},
            "zapped": all(raw1[name].is_zapped for name in ("a", "b")) and raw_d.is_zapped,
            "edges": (raw2["host"].fields[0] is raw2["a"], raw2["a"].fields[0] is raw2["b"], raw2["a"].fields[1]),
            "copied": stats.copied,
            "promoted": stats.promoted,
            "remembered": remembered(heap),
            "old_to_young": old_to_young(heap),
        }

    isolate = run_isolate(Config(mutators=1, program=program))
    assert isolate.violations == [], [v.message for v in isolate.violations]
    lids = seen["lids"]

    first = seen["after1"]
    assert first["same_lids"] and first["host_unmoved"] and first["moved"]
    assert first["owners"] == {"host": OLD, "a": NEW_TO, "b": NEW_TO}
    assert first["zapped"], "from-space originals of survivors must be zapped"
    assert first["garbage_zapped"] and not first["garbage_copied"], "an unreachable object must not be copied"
    assert first["edges"] == (True, True, 17)
    assert first["global"]
    assert first["below_age_mark"] == [True, True]
    assert (first["copied"], first["promoted"]) == (2, 0)
    assert first["remembered"] == first["old_to_young"] == {(lids["host"], 0)}

    assert seen["d_below_age_mark"] is False
    second = seen["after2"]
    assert second["owners"] == {"host": OLD, "a": OLD, "b": OLD, "d": NEW_TO}
    assert second["young"] == {"host": False, "a": False, "b": False, "d": True}
    assert second["zapped"]
    assert second["edges"] == (True, True, second["edges"][2])
    assert (second["copied"], second["promoted"]) == (3, 2)
    # host.0 now points to an old object (slot dropped); the promoted a.1 -> d is recorded
    assert second["remembered"] == second["old_to_young"] == {(lids["a"], 1)}
    assert isolate.stats.scavenges == 2
    assert isolate.stats.remset_slots_dropped >= 1


def test_objects_only_reachable_through_the_remembered_set_survive(run_isolate: RunIsolate) -> None:
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        host = m.alloc(1, old=True)
        with m.scope():
            young = m.alloc(2)
            m.store(young, 1, 99)
            m.store(host, 0, young)
            lid = young.get().lid
        # the only reference to the young object is the old host's field
        m.isolate.collect_garbage(m)
        target = host.get().fields[0]
        seen["survived"] = isinstance(target, HeapObject) and target.lid == lid and target.fields[1] == 99
        seen["young"] = isinstance(target, HeapObject) and target.page.owner == NEW_TO

    isolate = run_isolate(Config(mutators=1, program=program))
    assert isolate.violations == []
    assert seen == {"survived": True, "young": True}


def test_full_new_space_triggers_a_scavenge_from_the_allocation_slow_path(run_isolate: RunIsolate) -> None:
    def program(m: Mutator) -> None:
        for _ in range(400):
            with m.scope():
                m.alloc(3)
            m.poll()

    # Two threads filling a tiny new space request scavenges back to back
    # (this found the stale IN_SAFEPOINT race fixed in 04ac037).
    config = Config(mutators=2, new_space_pages=1, page_words=128, lab_words=16, program=program)
    isolate = run_isolate(config)
    assert isolate.violations == []
    assert isolate.stats.scavenges >= 8
    assert isolate.stats.copied == 0  # nothing was alive
