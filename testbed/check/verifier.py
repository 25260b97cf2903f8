"""The heap verifier: re-reads the stopped world and reports broken invariants.

Mirrors V8's ``HeapVerifier`` (src/heap/heap-verifier.cc) with its
``OldToNewSlotVerifyingVisitor``, run where ``--verify-heap`` runs it: at
the start of a pause, after each scavenge, after each mark-compact and at
the end of the run.  Unlike V8's, which reuses the heap's own iterators, it
shares no code with what it checks: roots, objects, old-to-young slots,
remembered slots and weak-list entries are all re-derived from raw data
(:mod:`testbed.check.raw`), and after every collection a checkmark trace
(:mod:`testbed.check.checkmark`) compares what is reachable with what was
reachable before it and with the shadow graph built from the mutators' own
operations (:mod:`testbed.check.shadow`); whether the sweeper stayed paused
through a scavenge comes from what the sweeping thread was seen doing
(:mod:`testbed.check.sweeper_checks`).  It is read-only.

Simplified: it checks the invariants of the catalogue (docs/design.md, 'Invariants'),
not each object's layout.

Order matters where one slip breaks several invariants: the first checks
of a pause name the cause (a mutator still running, a buffer left
unflushed) before the checks that see its effect (a missing slot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.check import raw
from testbed.check.checkmark import compare_reached, trace
from testbed.check.code_checks import CodeChecks
from testbed.check.findings import Evaluations, Findings
from testbed.check.shadow import ShadowGraph, logical
from testbed.check.sweeper_checks import SweeperChecks
from testbed.heap import HeapObject
from testbed.runtime import ThreadState
from testbed.sched import Violation

if TYPE_CHECKING:
    from testbed.runtime import Isolate

__all__ = ["HeapVerifier"]


class HeapVerifier:
    """Read-only checks of an isolate whose mutators are stopped."""

    def __init__(self, shadow: ShadowGraph, evaluations: Evaluations | None = None) -> None:
        self.shadow = shadow
        self.evaluations = evaluations if evaluations is not None else Evaluations()
        self.code = CodeChecks()
        self.sweeper = SweeperChecks()
        # what the last trace reached: set at each pause's start, compared with
        # by that pause's later checks, replaced at the next pause's start;
        # None only before the first pause and after the run's end
        self._reached: dict[int, HeapObject] | None = None

    def _findings(self) -> Findings:
        return Findings(self.evaluations)

    def at_pause_start(self, isolate: Isolate) -> list[Violation]:
        found = self._findings()
        self._world_stopped(isolate, found)
        self.sweeper.at_pause_start(isolate, found)
        self._store_buffers_flushed(isolate, found)
        self.code.weak_list(isolate, found)
        self.code.frames(isolate, found)
        self.code.embedded(isolate, found)
        self.code.condemned_unlinked(isolate, found)
        self._remset_complete(isolate, found)
        self._reached = trace(isolate, found, None, after_scavenge=False)
        return found.violations("at pause start")

    def after_scavenge(self, isolate: Isolate) -> list[Violation]:
        found = self._findings()
        self.sweeper.after_scavenge(isolate, found)
        self._freed_stays_zapped(isolate, found)
        self._checkmark(isolate, found, after_scavenge=True, what="scavenge")
        self._remset_precise(isolate, found)
        self.code.weak_list(isolate, found)
        self.code.frames(isolate, found)
        return found.violations(f"after scavenge {isolate.stats.scavenges}")

    def after_mark_compact(self, isolate: Isolate, concurrent_sweeping: bool) -> list[Violation]:
        found = self._findings()
        self.code.weak_list(isolate, found)
        self.code.frames(isolate, found)
        self.code.embedded(isolate, found)
        self.code.after_mark_compact(isolate, found, concurrent_sweeping)
        self._checkmark(isolate, found, after_scavenge=False, what="mark-compact")
        return found.violations(f"after mark-compact {isolate.stats.mark_compacts}")

    def at_run_end(self, isolate: Isolate) -> list[Violation]:
        found = self._findings()
        self._reached = None
        self.code.weak_list(isolate, found)
        self.code.frames(isolate, found)
        self.code.embedded(isolate, found)
        self.code.condemned_unlinked(isolate, found)  # the last concurrent sweep is over too
        self._remset_complete(isolate, found, include_buffers=True)
        trace(isolate, found, self.shadow, after_scavenge=False)
        return found.violations("at run end")

    # -- individual checks -----------------------------------------------------

    def _checkmark(self, isolate: Isolate, found: Findings, after_scavenge: bool, what: str) -> None:
        """Re-trace; compare with the program's graph and with the pause's previous trace."""
        reached = trace(isolate, found, self.shadow, after_scavenge)
        if self._reached is not None:
            compare_reached(self._reached, reached, found, what)
        self._reached = reached
        if not found.counts:
            self.shadow.prune(set(reached))

    @staticmethod
    def _world_stopped(isolate: Isolate, found: Findings) -> None:
        found.evaluate("world-stopped")
        initiator = isolate.safepoint.initiator
        for mutator in isolate.mutators:
            if mutator is not initiator and mutator.state is ThreadState.RUNNING:
                found.add("world-stopped", f"{mutator.name} is still running as the pause starts")

    @staticmethod
    def _store_buffers_flushed(isolate: Isolate, found: Findings) -> None:
        found.evaluate("store-buffers-flushed")
        for mutator in isolate.mutators:
            entries = len(mutator.store_buffer.entries)
            if entries:
                found.add("store-buffers-flushed", f"{mutator.name}'s store buffer holds {entries} entries")

    @staticmethod
    def _remset_complete(isolate: Isolate, found: Findings, include_buffers: bool = False) -> None:
        """Every old field holding a young object has its slot bit set (or, at run end, a buffer entry)."""
        found.evaluate("remset-complete")
        buffered: set[tuple[int, int]] = set()
        if include_buffers:
            for mutator in isolate.mutators:
                buffered.update((host.lid, index) for host, index in mutator.store_buffer.entries)
        for page in isolate.heap.old_space.pages:
            remembered = raw.remembered_addresses(page)
            for host in raw.objects_on(page):
                if raw.death(host) is not None:
                    continue  # a copy given up after a lost forwarding race, or swept
                fields = host.fields
                for index in range(raw.tagged_count(host)):  # untagged words are data
                    value = fields[index]
                    if not (isinstance(value, HeapObject) and value.page.young):
                        continue
                    if raw.slot_address(host, index) in remembered or (host.lid, index) in buffered:
                        continue
                    found.add(
                        "remset-complete",
                        f"old #{host.lid}.{index} -> young #{value.lid} is not in the remembered set",
                    )

    @staticmethod
    def _freed_stays_zapped(isolate: Isolate, found: Findings) -> None:
        """Every freed old-space object still reads the zap value in every field.

        Freeing zaps an object's fields; a pointer in one afterwards was
        written through a dangling slot (in V8, into memory on the free list).
        Checked after each scavenge: the scavenger writes updated addresses
        through remembered slots.
        """
        found.evaluate("no-dangling")
        for page in isolate.heap.old_space.pages:
            for host in raw.objects_on(page):
                if raw.death(host) != "freed":
                    continue
                for index, value in enumerate(host.fields):
                    if isinstance(value, HeapObject) and value.lid != 0:
                        found.add(
                            "no-dangling",
                            f"freed #{host.lid}.{index} holds #{value.lid}: written through a dangling slot after "
                            f"the free",
                        )

    @staticmethod
    def _remset_precise(isolate: Isolate, found: Findings) -> None:
        """Every remembered slot is a tagged field of a live old object holding a live young object."""
        found.evaluate("remset-precise")
        for page in isolate.heap.old_space.pages:
            for address in sorted(raw.remembered_addresses(page)):
                host = page.words[address] if address < len(page.words) else None
                if host is None:
                    found.add("remset-precise", f"remembered slot {page.name}+{address} is in no object")
                    continue
                index = address - host.offset - raw.HEADER_WORDS
                if index < 0:
                    found.add("remset-precise", f"remembered slot {page.name}+{address} is #{host.lid}'s map word")
                    continue
                value = host.fields[index]
                if index >= raw.tagged_count(host):
                    # A recorded slot on a word that stopped being tagged: the
                    # scavenger, trusting the slot, read data as a pointer.
                    found.add(
                        "remset-precise",
                        f"remembered slot #{host.lid}.{index} is an untagged word of a dictionary-mode "
                        f"object, holding {logical(value)!r}",
                    )
                    continue
                if not (isinstance(value, HeapObject) and value.page.young and raw.death(value) is None):
                    found.add("remset-precise", f"remembered slot #{host.lid}.{index} holds {logical(value)!r}")
