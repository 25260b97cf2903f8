"""The seams between the runtime and the layers above it.

The runtime must not import the collectors (:mod:`testbed.gc`), the
deoptimizer (:mod:`testbed.deopt`) or the checkers (:mod:`testbed.check`),
which sit above it, yet a safepoint has to run a collection, a mutator has
to call into optimized code and the checkers have to see what mutators do.
So the isolate is handed a :class:`Collector`, optionally a
:class:`FullCollector` and a :class:`Deoptimizer`, and an :class:`Observer`;
this module defines what it expects of them.  The default observer sees
nothing.

In V8 the same seams are ``Heap::CollectGarbage`` choosing a collector, the
deoptimizer's entry from generated code, and the ``--verify-heap`` hooks
(``HeapVerifier``) called around each GC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from testbed.heap import Code, HeapObject, Page, Tagged
    from testbed.runtime.frames import Frame
    from testbed.runtime.isolate import Isolate
    from testbed.runtime.mutator import Mutator

__all__ = ["Collector", "Deoptimizer", "FullCollector", "Observer"]


class Collector(Protocol):
    """Runs young-generation collections with the world stopped."""

    def start(self, isolate: Isolate) -> None:
        """Before the mutators start: spawn worker threads, if any."""

    def scavenge(self, isolate: Isolate) -> None:
        """One collection, called by the initiator with the world stopped."""

    def shutdown(self) -> None:
        """After the last mutator ended: let worker threads exit."""


class FullCollector(Protocol):
    """A mark-compact of old and code space, with an optional concurrent sweeper."""

    def start(self, isolate: Isolate) -> None: ...

    def collect(self, isolate: Isolate) -> None:
        """Mark (and maybe sweep) with the world stopped."""

    def start_sweeping(self) -> None:
        """After the mark-compact's checks: a concurrent sweeper may start."""

    def ensure_sweeping_completed(self, isolate: Isolate) -> None:
        """Before a mark-compact: wait for a concurrent sweep to finish."""

    def pause_sweeping(self, isolate: Isolate) -> None:
        """At a scavenge's start: stop a concurrent sweeper at a page boundary."""

    def resume_sweeping(self) -> None:
        """After the scavenge: let a paused sweeper go on."""

    def ensure_swept(self, page: Page, isolate: Isolate) -> None:
        """Before an object's header is rewritten in place: wait until its page is swept."""

    def shutdown(self) -> None: ...


class Deoptimizer(Protocol):
    """Calls into optimized code and deoptimizes activations (testbed.deopt)."""

    def call(self, mutator: Mutator, function: int) -> None:
        """Push an activation of function ``function`` (optimized code if it has some)."""

    def fail_guard(self, mutator: Mutator) -> bool:
        """A speculative guard of the innermost activation fails: eager deopt (True if one ran)."""

    def check_lazy(self, mutator: Mutator) -> bool:
        """Deoptimize the innermost activation if its code was marked (True if one ran).

        With the isolate's Locker: if its return was patched for a lazy deopt.
        """


class Observer:
    """Callbacks from the model; every method is a no-op here.

    Mutator callbacks run on the mutator's own thread right after the
    operation, with no scheduling point in between, so the observer sees
    each mutator's operations in program order.
    """

    def on_heap_op(self, mutator: Mutator, op: str) -> None:
        """A mutator is about to touch the heap (``op`` names the operation)."""

    def on_alloc(self, mutator: Mutator, obj: HeapObject) -> None: ...

    def on_field_write(self, mutator: Mutator, host: HeapObject, index: int, value: Tagged) -> None: ...

    def on_field_read(self, mutator: Mutator, host: HeapObject, index: int, value: Tagged) -> None:
        """A mutator read ``host.fields[index]`` (``value`` is what it got)."""

    def on_execute(self, mutator: Mutator, frame: Frame) -> None:
        """A mutator runs the code of ``frame`` (a guard in it, or a return through it)."""

    def on_embedded_read(self, mutator: Mutator, code: Code, index: int, value: Tagged) -> None:
        """Running ``code``, a mutator read its embedded object ``index`` (``value``, None if cleared)."""

    def on_root_push(self, mutator: Mutator, stack: str, size: int) -> None:
        """A handle scope (``stack="scope"``) or frame (``"frame"``) was entered."""

    def on_root_pop(self, mutator: Mutator, stack: str) -> None: ...

    def on_root_write(self, mutator: Mutator, stack: str, index: int, value: Tagged) -> None:
        """Slot ``index`` of the innermost scope or frame was written (or appended)."""

    def on_global_write(self, mutator: Mutator, index: int, value: Tagged) -> None: ...

    def on_gc_task_start(self, isolate: Isolate, task: str) -> None:
        """A scavenger task begins its part of a scavenge (on the thread that runs it)."""

    def on_gc_task_end(self, isolate: Isolate, task: str) -> None:
        """A scavenger task has done its part: it touches the heap no more in this scavenge."""

    def on_slot_read(self, isolate: Isolate, task: str, host: HeapObject, index: int, value: Tagged) -> None:
        """A scavenger task read remembered slot ``host.fields[index]`` (``value`` is what it got)."""

    def on_sweep_start(self, isolate: Isolate, item: str) -> None:
        """The thread that sweeps begins ``item`` (a page's name, or ``"weak list"``)."""

    def on_sweep_end(self, isolate: Isolate, item: str) -> None:
        """The thread that sweeps is done with ``item``."""

    def on_pause_start(self, isolate: Isolate) -> None:
        """All mutators are stopped, buffers flushed, no collection has run yet."""

    def on_scavenge_end(self, isolate: Isolate) -> None:
        """The scavenge finished; mutators have not resumed."""

    def on_pause_end(self, isolate: Isolate) -> None:
        """The initiator finished its collection (scavenge and any mark-compact); it resumes the world next."""

    def on_mark_compact_end(self, isolate: Isolate) -> None:
        """A mark-compact finished its pause (a concurrent sweep may follow)."""

    def on_run_end(self, isolate: Isolate) -> None:
        """Every mutator finished its program."""
