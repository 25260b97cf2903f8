"""The checker: the observer a checked run installs in its isolate.

Routes the model's callbacks: mutator operations update the shadow graph
and are screened as they happen (a heap operation while a GC runs is
``world-stopped``; reading through a dead object is ``no-dangling``;
running code that was freed is ``frames-consistent``; loading through an
embedded object running code finds cleared or freed is ``no-dangling``).
Collector threads say as they act when a scavenger task begins and ends
and which remembered slots it reads (a read through a freed host is
``no-dangling``), and when the sweeper begins and ends an item; the
initiator says when its pause starts and ends.  The checker keeps its own
record of those.  The pause and run-end hooks run the heap verifier.  Whatever it finds is reported to the
isolate, which aborts the run.  Every evaluation of every invariant is
counted (:attr:`Checker.evaluations`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from testbed.check.findings import Evaluations
from testbed.check.invariants import invariant_names
from testbed.check.raw import death
from testbed.check.shadow import ShadowGraph
from testbed.check.verifier import HeapVerifier
from testbed.heap import Code, HeapObject, Tagged
from testbed.runtime import Config, ConfigError, Observer
from testbed.sched import Violation

if TYPE_CHECKING:
    from testbed.runtime import Frame, Isolate, Mutator

__all__ = ["Checker"]


class Checker(Observer):
    """Shadow graph + operation screening + heap verifier."""

    def __init__(self, config: Config) -> None:
        unknown = sorted(config.disabled_invariants - set(invariant_names()))
        if unknown:
            raise ConfigError(
                f"disabled_invariants: unknown invariant {unknown[0]!r} (known: {', '.join(invariant_names())})"
            )
        #: invariants evaluated but not reported (``Config.disabled_invariants``)
        self.disabled = config.disabled_invariants
        self.shadow = ShadowGraph(config.mutators, config.globals_per_mutator)
        #: evaluations per invariant (the run's ``checks_by_invariant``)
        self.evaluations = Evaluations()
        self.verifier = HeapVerifier(self.shadow, self.evaluations)
        #: verification points passed (pauses, collections, the run end)
        self.checks = 0
        #: seconds spent in the heap verifier (a measurement, not part of any verdict)
        self.verify_s = 0.0
        #: scavenger tasks that said they began their part and not yet that they ended
        #: (each task's thread adds and removes only its own key)
        self._gc_tasks: dict[str, bool] = {}
        #: between an initiator's pause start and its pause end: a collection is running
        self._collecting = False

    # -- mutator operations ------------------------------------------------------

    def on_heap_op(self, mutator: Mutator, op: str) -> None:
        # The world-stopped monitor: the collection really is running (the
        # initiator said so at its pause start and has not yet reported its
        # pause end, or a scavenger task has said it began its part and not
        # yet that it ended), and this mutator is really executing a heap
        # operation.
        self.evaluations.count("world-stopped")
        isolate = mutator.isolate
        if self._collecting or self._gc_tasks:
            self._report(
                isolate, [isolate.violation("world-stopped", f"{mutator.name} performs {op} while a GC is in progress")]
            )

    def on_field_read(self, mutator: Mutator, host: HeapObject, index: int, value: Tagged) -> None:
        self.evaluations.count("no-dangling")
        dead = death(host)
        if dead is not None:
            message = f"{mutator.name} reads #{host.lid}.{index} of a {dead} object"
        elif isinstance(value, HeapObject) and (dead := death(value)) is not None:
            message = f"{mutator.name} reads #{host.lid}.{index} -> #{value.lid}, a {dead} object"
        else:
            return
        isolate = mutator.isolate
        self._report(isolate, [isolate.violation("no-dangling", message)])

    def on_execute(self, mutator: Mutator, frame: Frame) -> None:
        self.evaluations.count("frames-consistent")
        code = frame.code
        if code is None or (dead := death(code)) is None:
            return
        isolate = mutator.isolate
        message = f"{mutator.name} frame {frame.depth} runs {dead} code #{code.lid}"
        self._report(isolate, [isolate.violation("frames-consistent", message)])

    def on_embedded_read(self, mutator: Mutator, code: Code, index: int, value: Tagged) -> None:
        # What running code found at an embedded object's address: nothing
        # (the deoptimizer cleared it: the code was invalidated under this
        # activation) or an object a GC freed.  Reading through either is a
        # dangling read; the load of its field is screened like any other.
        self.evaluations.count("no-dangling")
        if value is None:
            message = (
                f"{mutator.name} runs code #{code.lid} and loads through embedded object {index}, which was cleared"
            )
        elif isinstance(value, HeapObject) and (dead := death(value)) is not None:
            message = f"{mutator.name} runs code #{code.lid} and loads through embedded object {index}, #{value.lid}, a {dead} object"
        else:
            return
        isolate = mutator.isolate
        self._report(isolate, [isolate.violation("no-dangling", message)])

    def on_alloc(self, mutator: Mutator, obj: HeapObject) -> None:
        self.shadow.alloc(obj)

    def on_field_write(self, mutator: Mutator, host: HeapObject, index: int, value: Tagged) -> None:
        self.shadow.field_write(host, index, value)

    def on_root_push(self, mutator: Mutator, stack: str, size: int) -> None:
        self.shadow.root_push(mutator, stack, size)

    def on_root_pop(self, mutator: Mutator, stack: str) -> None:
        self.shadow.root_pop(mutator, stack)

    def on_root_write(self, mutator: Mutator, stack: str, index: int, value: Tagged) -> None:
        self.shadow.root_write(mutator, stack, index, value)

    def on_global_write(self, mutator: Mutator, index: int, value: Tagged) -> None:
        self.shadow.global_write(mutator, index, value)

    # -- collector threads (each hook runs on the thread doing the work) ----------

    def on_gc_task_start(self, isolate: Isolate, task: str) -> None:
        self._gc_tasks[task] = True

    def on_gc_task_end(self, isolate: Isolate, task: str) -> None:
        self._gc_tasks.pop(task, None)

    def on_slot_read(self, isolate: Isolate, task: str, host: HeapObject, index: int, value: Tagged) -> None:
        # A remembered slot read through a freed host: the scavenger reads
        # memory the sweeper has freed (in V8, a free-list entry read as a slot).
        self.evaluations.count("no-dangling")
        dead = death(host)
        if dead is not None:
            message = f"{task} reads remembered slot #{host.lid}.{index} of a {dead} object"
            self._report(isolate, [isolate.violation("no-dangling", message)])

    def on_sweep_start(self, isolate: Isolate, item: str) -> None:
        self.verifier.sweeper.started(item)

    def on_sweep_end(self, isolate: Isolate, item: str) -> None:
        self.verifier.sweeper.ended(item)

    # -- verification points ---------------------------------------------------

    def on_pause_start(self, isolate: Isolate) -> None:
        self._collecting = True
        self.checks += 1
        # Every running mutator arrived: this safepoint's stop phase completed.
        self.evaluations.count("safepoint-liveness")
        self._report(isolate, self._timed(self.verifier.at_pause_start, isolate))

    def on_scavenge_end(self, isolate: Isolate) -> None:
        self.checks += 1
        # The world may resume only once every task has said it is done.
        self.evaluations.count("world-stopped")
        running = sorted(self._gc_tasks)
        early = (
            [
                isolate.violation(
                    "world-stopped",
                    f"after scavenge {isolate.stats.scavenges}: {', '.join(running)} still running as the world resumes",
                )
            ]
            if running
            else []
        )
        self._report(isolate, early + self._timed(self.verifier.after_scavenge, isolate))

    def on_pause_end(self, isolate: Isolate) -> None:
        self._collecting = False

    def on_mark_compact_end(self, isolate: Isolate) -> None:
        self.checks += 1
        self._report(
            isolate, self._timed(self.verifier.after_mark_compact, isolate, isolate.config.concurrent_sweeping)
        )

    def on_run_end(self, isolate: Isolate) -> None:
        self.checks += 1
        # Every model thread ended, in time and without an exception.
        self.evaluations.count("safepoint-liveness")
        self.evaluations.count("model-error", len(isolate.mutators))
        self._report(isolate, self._timed(self.verifier.at_run_end, isolate))

    def _report(self, isolate: Isolate, violations: list[Violation]) -> None:
        if self.disabled:
            violations = [v for v in violations if v.invariant not in self.disabled]
        isolate.report(violations)

    def _timed(self, check: Callable[..., list[Violation]], *args: Any) -> list[Violation]:
        started = time.perf_counter()
        try:
            return check(*args)
        finally:
            self.verify_s += time.perf_counter() - started
