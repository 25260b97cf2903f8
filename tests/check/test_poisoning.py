"""Dead objects are poisoned, and reading through one is seen where it happens.

V8 zaps dead memory (``kZapValue``) so that a stale pointer reads garbage that
crashes instead of plausible data.  The model poisons every object a
scavenge leaves in from-space and every object the sweeper frees: the map
word becomes ``ZAPPED``/``FREED`` and every field the zap value.  A mutator
that reads through a stale raw reference is then reported as
``no-dangling`` on its own thread at the step of the read.
"""

from __future__ import annotations

from typing import Any

import testbed
from testbed.heap import ZAP, Map
from testbed.runtime import Config, Mutator


def _stale_read(seen: dict[str, Any]) -> Any:
    def program(m: Mutator) -> None:
        young = m.alloc(2)
        m.store(young, 0, 41)
        raw = young.get()  # a raw pointer held across a GC: the workload's bug
        m.isolate.collect_garbage(m)
        seen["raw"] = raw
        seen["moved"] = young.get()
        stale = m.scopes[-1].new_handle(raw)  # the raw pointer used again
        m.load(stale, 0)

    return program


def test_an_object_left_in_from_space_is_poisoned() -> None:
    seen: dict[str, Any] = {}
    testbed.run(Config(mutators=1, program=_stale_read(seen), strategy="random", seed=0, scavenger_workers=0))
    raw, moved = seen["raw"], seen["moved"]
    assert raw.lid == moved.lid and raw is not moved
    assert raw.map_word is Map.ZAPPED
    assert raw.fields == [ZAP, ZAP], "a stale reference reads poison, not the old fields"
    assert moved.fields[0] == 41


def test_a_read_through_a_stale_reference_is_no_dangling_on_the_reading_thread_at_the_read() -> None:
    seen: dict[str, Any] = {}
    result = testbed.run(Config(mutators=1, program=_stale_read(seen), strategy="random", seed=0, scavenger_workers=0))
    first = result.violations[0]
    assert first.invariant == "no-dangling", result.violations
    assert first.thread == "mutator-0"
    assert f"mutator-0 reads #{seen['raw'].lid}.0 of a zapped object" in first.message
    scavenge_end = [e.step for e in result.events if e.kind == "scavenge-end"]
    assert scavenge_end and first.step > scavenge_end[-1], "seen at the read, after the scavenge"


def test_swept_objects_are_poisoned_as_freed() -> None:
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        with m.scope():
            garbage = m.alloc(3, old=True)
            m.store(garbage, 1, 7)
            seen["garbage"] = garbage.get()
        m.isolate.collect_garbage(m)

    result = testbed.run(Config(mutators=1, program=program, strategy="random", mark_compact_every=1))
    assert result.ok, result.violations
    assert seen["garbage"].map_word is Map.FREED
    assert seen["garbage"].fields == [ZAP, ZAP, ZAP]


def test_a_field_holding_the_zap_value_is_reported_by_the_next_check() -> None:
    def program(m: Mutator) -> None:
        host = m.alloc(1, old=True)
        host.get().fields[0] = ZAP  # what a copy of a poisoned object would carry
        m.isolate.collect_garbage(m)

    result = testbed.run(Config(mutators=1, program=program, strategy="random", scavenger_workers=0))
    assert result.violations[0].invariant == "no-dangling", result.violations
    assert "zap value" in result.violations[0].message
