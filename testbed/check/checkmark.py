"""The checkmark trace: an independent walk of everything reachable from the roots.

Go's garbage collector, under ``GODEBUG=gccheckmark=1``, re-marks the heap
from the roots with a second, simple marker after every cycle and fails if
the real collector left anything reachable unmarked.  This is that pass for
the model.  It walks from the roots it enumerates itself
(:mod:`testbed.check.raw`) and judges every reference it meets:

* a reference to a zapped or freed object is ``no-dangling`` (or, right
  after a scavenge, ``no-from-space-refs`` for a zapped from-space object),
  and so is a reference to the zap value itself (a slot that read poison);
* right after a scavenge, a reference into from-space is
  ``no-from-space-refs``;
* one logical object reached at two addresses is ``forwarding-unique``;
* optionally each slot is compared with the shadow graph (what the program
  wrote) and the reached set with the previous trace of the same pause:
  ``reachability-preserved``.  With the world stopped nothing may appear,
  vanish or (outside new space) move between two traces of one pause.

The walk returns the reached objects by logical id, which the verifier
keeps as the next comparison's baseline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.check.findings import Findings
from testbed.check.raw import death, roots, tagged_count
from testbed.check.shadow import Logical, ShadowGraph, logical
from testbed.heap import NEW_FROM, HeapObject, Tagged

if TYPE_CHECKING:
    from testbed.runtime import Isolate

__all__ = ["compare_reached", "trace"]


def trace(
    isolate: Isolate,
    found: Findings,
    shadow: ShadowGraph | None,
    after_scavenge: bool,
) -> dict[int, HeapObject]:
    """Walk from the roots, judging every reference; the reached objects by lid.

    ``shadow`` given: compare every reached slot with what the program wrote.
    """
    found.evaluate("no-dangling", "forwarding-unique")
    if after_scavenge:
        found.evaluate("no-from-space-refs")
    if shadow is not None:
        found.evaluate("reachability-preserved")
    seen: dict[int, HeapObject] = {}
    grey: list[HeapObject] = []

    def visit(value: Tagged, where: str, expected: Logical, compare: bool) -> None:
        if compare and logical(value) != expected:
            found.add("reachability-preserved", f"{where} is {logical(value)!r}, the program wrote {expected!r}")
        if not isinstance(value, HeapObject):
            return
        dead = death(value)
        if value.lid == 0:
            found.add("no-dangling", f"{where} holds the zap value (it was read from a dead object)")
            return
        if dead == "zapped":
            invariant = "no-from-space-refs" if after_scavenge else "no-dangling"
            found.add(invariant, f"{where} -> #{value.lid}, a zapped from-space object")
            return
        if dead == "freed":
            found.add("no-dangling", f"{where} -> #{value.lid}, a freed object")
            return
        if after_scavenge and (isinstance(value.map_word, HeapObject) or value.page.owner == NEW_FROM):
            found.add("no-from-space-refs", f"{where} -> #{value.lid} in from-space")
            return
        other = seen.get(value.lid)
        if other is None:
            seen[value.lid] = value
            grey.append(value)
        elif other is not value:
            found.add("forwarding-unique", f"#{value.lid} is reached at two addresses ({where})")

    heap_areas = list(roots(isolate))
    shadow_areas = shadow.areas() if shadow is not None else []
    compare_shadow = shadow is not None
    if compare_shadow and len(shadow_areas) != len(heap_areas):
        found.add("reachability-preserved", f"{len(heap_areas)} root areas, the program made {len(shadow_areas)}")
        compare_shadow = False
    for n, (name, slots) in enumerate(heap_areas):
        expected_slots = shadow_areas[n] if compare_shadow else []
        compare_area = compare_shadow and len(expected_slots) == len(slots)
        if compare_shadow and not compare_area:
            found.add(
                "reachability-preserved", f"{name} has {len(slots)} slots, the program made {len(expected_slots)}"
            )
        for index, value in enumerate(slots):
            visit(value, f"{name}[{index}]", expected_slots[index] if compare_area else None, compare_area)
    while grey:
        obj = grey.pop()
        expected_fields = shadow.fields.get(obj.lid) if compare_shadow and shadow is not None else None
        if compare_shadow and (expected_fields is None or len(expected_fields) != len(obj.fields)):
            found.add("reachability-preserved", f"#{obj.lid} is reachable but the program never made it so")
            expected_fields = None
        fields = obj.fields
        for index in range(tagged_count(obj)):  # untagged words are data, not references
            value = fields[index]
            visit(
                value,
                f"#{obj.lid}.{index}",
                expected_fields[index] if expected_fields is not None else None,
                expected_fields is not None,
            )
    return seen


def compare_reached(before: dict[int, HeapObject], after: dict[int, HeapObject], found: Findings, what: str) -> None:
    """Two traces of one stopped world must reach the same objects; old ones at the same address."""
    found.evaluate("reachability-preserved")
    for lid, obj in before.items():
        now = after.get(lid)
        if now is None:
            found.add("reachability-preserved", f"#{lid} was reachable before the {what} and is not after it")
        elif not obj.page.young and now is not obj:
            found.add("reachability-preserved", f"old #{lid} is reached at another address after the {what}")
    for lid in sorted(after.keys() - before.keys()):
        found.add("reachability-preserved", f"#{lid} became reachable during the {what}")
