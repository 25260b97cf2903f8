"""The heap verifier: re-walks the heap and reports broken invariants.

Mirrors V8's ``HeapVerifier`` (src/heap/heap-verifier.cc) with its
``OldToNewSlotVerifyingVisitor``, run where ``--verify-heap`` runs it: at
the start of a pause, after each scavenge and at the end.  It is read-only
and shares no code with the collector: it finds objects by walking pages
and references itself, and judges the collector's result against the
shadow graph (:mod:`testbed.check.shadow`) built from the mutators' own
operations.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import TYPE_CHECKING

from testbed.check.shadow import Logical, ShadowGraph, logical
from testbed.heap import NEW_FROM, Code, HeapObject, Map, Tagged, is_old_to_young
from testbed.runtime import ThreadState
from testbed.sched import Violation, active_scheduler

if TYPE_CHECKING:
    from testbed.runtime import Isolate

__all__ = ["HeapVerifier"]

#: messages kept per invariant per check; the rest are counted
_EXAMPLES = 3


class _Findings:
    """Violations of one check, a few examples per invariant."""

    def __init__(self) -> None:
        self.examples: dict[str, list[str]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, invariant: str, message: str) -> None:
        self.counts[invariant] += 1
        if len(self.examples[invariant]) < _EXAMPLES:
            self.examples[invariant].append(message)

    def violations(self, when: str) -> list[Violation]:
        step = active_scheduler().steps
        thread = threading.current_thread().name
        found = []
        for invariant, examples in self.examples.items():
            more = self.counts[invariant] - len(examples)
            text = "; ".join(examples) + (f"; and {more} more" if more else "")
            found.append(Violation(invariant, f"{when}: {text}", step=step, thread=thread))
        return found


class HeapVerifier:
    """Read-only checks of an isolate whose mutators are stopped."""

    def __init__(self, shadow: ShadowGraph) -> None:
        self.shadow = shadow
        # weak-list entries the verifier found unreachable at the last
        # mark-compact, which a (concurrent) sweep must have unlinked by the
        # next pause
        self._condemned: list[Code] = []

    def at_pause_start(self, isolate: Isolate) -> list[Violation]:
        found = _Findings()
        self._world_stopped(isolate, found)
        self._weak_list(isolate, found)
        self._frames_consistent(isolate, found)
        self._condemned_unlinked(isolate, found)
        self._remset_complete(isolate, found)
        self._store_buffers_flushed(isolate, found)
        self._walk(isolate, found, after_scavenge=False, compare_shadow=False)
        return found.violations("at pause start")

    def after_scavenge(self, isolate: Isolate) -> list[Violation]:
        found = _Findings()
        if isolate.collector.active_tasks:
            found.add(
                "world-stopped",
                f"{isolate.collector.active_tasks} scavenger task(s) still running as the world resumes",
            )
        self._remset_precise(isolate, found)
        self._walk(isolate, found, after_scavenge=True, compare_shadow=True)
        self._weak_list(isolate, found)
        self._frames_consistent(isolate, found)
        return found.violations(f"after scavenge {isolate.stats.scavenges}")

    def after_mark_compact(self, isolate: Isolate, concurrent_sweeping: bool) -> list[Violation]:
        found = _Findings()
        self._weak_list(isolate, found)
        self._frames_consistent(isolate, found)
        live = self._live_code(isolate)
        condemned = [code for code in isolate.heap.weak_code_list.entries() if code.lid not in live]
        if concurrent_sweeping:
            self._condemned = condemned  # the sweeper has until the next pause
        else:
            for code in condemned:
                found.add("weak-list-cleared", f"unmarked code #{code.lid} is still on the weak list")
        for code in isolate.heap.code_objects():
            if code.lid in live and code.map_word is Map.FREED:
                found.add("weak-list-cleared", f"code #{code.lid} was freed while still in use")
        self._walk(isolate, found, after_scavenge=False, compare_shadow=True)
        return found.violations(f"after mark-compact {isolate.stats.mark_compacts + 1}")

    def at_run_end(self, isolate: Isolate) -> list[Violation]:
        found = _Findings()
        self._weak_list(isolate, found)
        self._remset_complete(isolate, found, include_buffers=True)
        self._walk(isolate, found, after_scavenge=False, compare_shadow=True)
        return found.violations("at run end")

    # -- individual checks -----------------------------------------------------

    @staticmethod
    def _live_code(isolate: Isolate) -> set[int]:
        """Code some activation runs or some function holds: the verifier's own marking."""
        live: set[int] = set()
        for mutator in isolate.mutators:
            for frame in mutator.frames:
                if frame.code is not None:
                    live.add(frame.code.lid)
        for function in isolate.deoptimizer.functions if isolate.deoptimizer else ():
            live.add(function.interpreter_code.lid)
            if function.optimized_code is not None:
                live.add(function.optimized_code.lid)
        return live

    @staticmethod
    def _weak_list(isolate: Isolate, found: _Findings) -> None:
        heap = isolate.heap
        limit = 10_000
        seen: set[int] = set()
        for code in heap.weak_code_list.entries(limit):
            if code.lid in seen:
                found.add(
                    "weak-list-wellformed", f"code #{code.lid} is on the weak list twice (or the list has a cycle)"
                )
                break
            seen.add(code.lid)
            if not isinstance(code, Code) or not code.optimized or not code.marked_for_deoptimization:
                found.add("weak-list-wellformed", f"#{code.lid} on the weak list is not deoptimized code")
            if code.map_word is Map.FREED:
                found.add("weak-list-wellformed", f"code #{code.lid} on the weak list was freed")
        for code in heap.code_objects():
            if code.marked_for_deoptimization and code.map_word is not Map.FREED and code.lid not in seen:
                found.add("weak-list-complete", f"deoptimized code #{code.lid} is alive but not on the weak list")

    @staticmethod
    def _frames_consistent(isolate: Isolate, found: _Findings) -> None:
        for mutator in isolate.mutators:
            for frame in mutator.frames:
                code = frame.code
                if code is None:
                    continue
                if code.map_word is Map.FREED:
                    found.add("frames-consistent", f"{mutator.name} frame {frame.depth} runs freed code #{code.lid}")
                elif frame.deoptimized and isinstance(code, Code) and code.optimized:
                    found.add(
                        "frames-consistent",
                        f"{mutator.name} frame {frame.depth} was deoptimized but still runs optimized code #{code.lid}",
                    )

    def _condemned_unlinked(self, isolate: Isolate, found: _Findings) -> None:
        on_list = {code.lid for code in isolate.heap.weak_code_list.entries()}
        for code in self._condemned:
            if code.lid in on_list:
                found.add("weak-list-cleared", f"unmarked code #{code.lid} is still on the weak list after sweeping")
        self._condemned = []

    @staticmethod
    def _world_stopped(isolate: Isolate, found: _Findings) -> None:
        initiator = isolate.safepoint.initiator
        for mutator in isolate.mutators:
            if mutator is not initiator and mutator.state is ThreadState.RUNNING:
                found.add("world-stopped", f"{mutator.name} is still running as the pause starts")

    @staticmethod
    def _store_buffers_flushed(isolate: Isolate, found: _Findings) -> None:
        for mutator in isolate.mutators:
            if len(mutator.store_buffer):
                found.add(
                    "store-buffers-flushed",
                    f"{mutator.name}'s store buffer holds {len(mutator.store_buffer)} entries",
                )

    @staticmethod
    def _remset_complete(isolate: Isolate, found: _Findings, include_buffers: bool = False) -> None:
        buffered: set[tuple[int, int]] = set()
        if include_buffers:
            for mutator in isolate.mutators:
                buffered.update((host.lid, index) for host, index in mutator.store_buffer.entries)
        remembered_set = isolate.heap.remembered_set
        for host in isolate.heap.old_objects():
            if host.is_dead:
                continue  # a copy given up after a lost forwarding race
            for index, value in enumerate(host.fields):
                if (
                    is_old_to_young(host, value)
                    and not remembered_set.contains(host, index)
                    and (host.lid, index) not in buffered
                ):
                    assert isinstance(value, HeapObject)
                    found.add(
                        "remset-complete",
                        f"old #{host.lid}.{index} -> young #{value.lid} is not in the remembered set",
                    )

    @staticmethod
    def _remset_precise(isolate: Isolate, found: _Findings) -> None:
        for page in isolate.heap.old_space.pages:
            for address in page.slot_set.addresses():
                host = page.object_at(address)
                if host is None:
                    found.add("remset-precise", f"remembered slot {page.name}+{address} is in no object")
                    continue
                value = host.fields[address - host.offset - 1]
                if not (isinstance(value, HeapObject) and value.page.young and not value.is_dead):
                    found.add(
                        "remset-precise",
                        f"remembered slot #{host.lid}.{address - host.offset - 1} holds {logical(value)!r}",
                    )

    def _walk(self, isolate: Isolate, found: _Findings, after_scavenge: bool, compare_shadow: bool) -> None:
        """Walk from the roots; check every reference, optionally against the shadow."""
        shadow = self.shadow
        seen: dict[int, HeapObject] = {}
        grey: list[HeapObject] = []

        def visit(value: Tagged, where: str, expected: Logical, compare: bool) -> None:
            if compare and logical(value) != expected:
                found.add("reachability-preserved", f"{where} is {logical(value)!r}, the program wrote {expected!r}")
            if not isinstance(value, HeapObject):
                return
            if value.is_zapped:
                invariant = "no-from-space-refs" if after_scavenge else "no-dangling"
                found.add(invariant, f"{where} -> #{value.lid}, a zapped from-space object")
                return
            if value.map_word is Map.FREED:
                found.add("no-dangling", f"{where} -> #{value.lid}, a freed object")
                return
            if after_scavenge and (value.forwardee is not None or value.page.owner == NEW_FROM):
                found.add("no-from-space-refs", f"{where} -> #{value.lid} in from-space")
                return
            other = seen.get(value.lid)
            if other is None:
                seen[value.lid] = value
                grey.append(value)
            elif other is not value:
                found.add("forwarding-unique", f"#{value.lid} is reached at two addresses ({where})")

        shadow_areas = shadow.root_areas()
        heap_areas = isolate.named_root_areas()
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
            expected_fields = shadow.fields.get(obj.lid) if compare_shadow else None
            if compare_shadow and (expected_fields is None or len(expected_fields) != len(obj.fields)):
                found.add("reachability-preserved", f"#{obj.lid} is reachable but the program never made it so")
                expected_fields = None
            for index, value in enumerate(obj.fields):
                visit(
                    value,
                    f"#{obj.lid}.{index}",
                    expected_fields[index] if expected_fields is not None else None,
                    expected_fields is not None,
                )
        if compare_shadow and not found.counts:
            shadow.prune(set(seen))
