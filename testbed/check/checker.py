"""The checker: the observer a checked run installs in its isolate.

Routes the model's callbacks: mutator operations update the shadow graph
and are screened as they happen (a heap operation while a GC runs is
``world-stopped``; reading through a dead object is ``no-dangling``;
running code that was freed is ``frames-consistent``).  Collector threads
say as they act when a scavenger task begins and ends and which remembered
slots it reads (a read through a freed host is ``no-dangling``), and when
the sweeper begins and ends an item; the checker keeps its own record of
those.  The pause and run-end hooks run the heap verifier.  Whatever it finds is reported to the
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
from testbed.heap import HeapObject, Tagged
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

    # -- mutator operations ------------------------------------------------------

    def on_heap_op(self, mutator: Mutator, op: str) -> None:
        # The world-stopped monitor: the collection really is running (the
        # initiator set in_progress before collecting and clears it after, and
        # a scavenger task has said it began its part and not yet that it
        # ended), and this mutator is really executing a heap operation.
        self.evaluations["world-stopped"] += 1
        isolate = mutator.isolate
        if isolate.safepoint.in_progress or self._gc_tasks:
            self._report(
                isolate, [isolate.violation("world-stopped", f"{mutator.name} performs {op} while a GC is in progress")]
            )

    def on_field_read(self, mutator: Mutator, host: HeapObject, index: int, value: Tagged) -> None:
        self.evaluations["no-dangling"] += 1
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
        self.evaluations["frames-consistent"] += 1
        code = frame.code
        if code is None:
            return
        if (dead := death(code)) is not None:
            message = f"{mutator.name} frame {frame.depth} runs {dead} code #{code.lid}"
        elif (lost := _lost_embedded(frame, code)) is not None:
            message = f"{mutator.name} frame {frame.depth} runs code #{code.lid}, {lost}"
        else:
            return
        isolate = mutator.isolate
        self._report(isolate, [isolate.violation("frames-consistent", message)])

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
        self.evaluations["no-dangling"] += 1
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
        self.checks += 1
        # Every running mutator arrived: this safepoint's stop phase completed.
        self.evaluations["safepoint-liveness"] += 1
        self._report(isolate, self._timed(self.verifier.at_pause_start, isolate))

    def on_scavenge_end(self, isolate: Isolate) -> None:
        self.checks += 1
        # The world may resume only once every task has said it is done.
        self.evaluations["world-stopped"] += 1
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

    def on_mark_compact_end(self, isolate: Isolate) -> None:
        self.checks += 1
        self._report(
            isolate, self._timed(self.verifier.after_mark_compact, isolate, isolate.config.concurrent_sweeping)
        )

    def on_run_end(self, isolate: Isolate) -> None:
        self.checks += 1
        # Every model thread ended, in time and without an exception.
        self.evaluations["safepoint-liveness"] += 1
        self.evaluations["model-error"] += len(isolate.mutators)
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


def _lost_embedded(frame: Frame, code: HeapObject) -> str | None:
    """What an activation about to run ``code`` would dereference and not find, if anything.

    Optimized code uses the objects its instructions embed; a frame the
    deoptimizer rebuilt (interpreter code) or whose return it patched (it
    enters the deoptimizer, not the code) no longer runs them.  A cleared
    slot (None) means the code was invalidated under a live activation.
    """
    embedded = getattr(code, "embedded", None)
    if not embedded or frame.deoptimized or frame.lazy_deopt:
        return None
    for index, value in enumerate(embedded):
        if value is None:
            return f"whose embedded object {index} was cleared (the code was invalidated under this activation)"
        if isinstance(value, HeapObject) and (dead := death(value)) is not None:
            return f"whose embedded object {index} is #{value.lid}, a {dead} object"
    return None
