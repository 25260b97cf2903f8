"""Mark-compact: mark from the roots, retire dead code from the weak list, sweep.

Mirrors the parts of V8's ``MarkCompactCollector`` (src/heap/mark-compact.cc)
the waltz depends on, in its historic shape:

* marking starts at the strong roots (global handles, every thread's handle
  scopes and frame slots, the code every optimized activation runs, every
  function's interpreter and optimized code, and what that optimized code was
  specialized on) and traces fields, not code's embedded objects (weak in
  optimized code, as V8's ``IsWeakObjectInOptimizedCode``); the weak
  list of deoptimized code is *not* traced (``VisitWeakList`` runs after
  marking);
* an activation the deoptimizer has patched is an interpreter frame: it
  keeps its function's bytecode alive (through the function), not the
  optimized code it was running.  That is what lets deoptimized code die
  once every activation of it is patched, and what V8 relies on;
* after marking, every weak-list entry that is not marked is unlinked and
  released at once, and every other unmarked old-space and code-space
  object is freed (poisoned with ``FREED``, its remembered slots dropped);
* with ``concurrent_sweeping`` those last two steps run on a sweeper thread
  after the mutators resume, as V8's sweeper continues after the pause; a
  scavenge pauses it (:meth:`MarkCompact.pause_sweeping`, V8's
  ``Sweeper::PauseScope``) and the next mark-compact first waits for it to
  finish (``EnsureSweepingCompleted``).  Pages are swept by
  :class:`testbed.gc.sweeper.Sweeper`;
* with ``sweeper_threads`` above 1, further sweeping threads take pages of
  the same sweep once the weak list is retired, and "the sweep is done"
  (for ending it, for the next mark-compact, for a scavenge's pause and for
  ``ensure_swept``) is Go's ``isSweepDone``: the list drained and no thread
  counted as sweeping (golang/go#46500; see the sweeper module).

No objects move ("compact" is kept for the name V8 gives the collector).

Simplified: marking is one stop-the-world trace on the thread that stopped
the world (no incremental or concurrent marking); live objects are a set of
logical ids, not mark bits, and objects allocated after the marking are
recognised by their higher ids; freed old-space words are reused through
old space's free list once their page is swept; only old and code space are swept, new space being left to the next scavenge.

Faults: ``unlink-before-marking-done`` processes the weak list after the
roots (global handles, every thread's scopes and frame slots) and every
function's code are marked and traced, but before the code each unpatched
activation runs is marked, so code still running in such an activation is
unlinked and released while the activation still runs it.
The sweeper's unlink with ``unlocked-weak-unlink`` is in
:class:`testbed.heap.WeakCodeList`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from testbed.gc.sweeper import Sweeper
from testbed.heap import Code, HeapObject, Map, poison
from testbed.heap.layout import tagged_fields
from testbed.sched import Condition, Halt, Lock, active_scheduler, point

if TYPE_CHECKING:
    from testbed.heap import Page
    from testbed.runtime import Isolate

__all__ = ["MarkCompact"]


class MarkCompact:
    """Stop-the-world marking; sweeping in the pause or on a sweeper thread."""

    def __init__(
        self, concurrent_sweeping: bool, faults: frozenset[str] = frozenset(), sweeper_threads: int = 1
    ) -> None:
        self.concurrent = concurrent_sweeping
        #: sweeping threads besides the main one, which also retires the weak list
        self._helpers = sweeper_threads - 1 if concurrent_sweeping else 0
        self.lock = Lock("sweeper")
        self.changed = Condition(self.lock, "sweeper")
        self._pending: tuple[set[int], int] | None = None
        #: the job being swept, as (sweep generation, watermark): what helpers sweep for
        self._job: tuple[int, int] = (0, 0)
        self._sweeping = False
        self._released = False
        # the sweeping thread has retired the weak list of its current job
        self._retired = False
        self._shutdown = False
        self._early_unlink = "unlink-before-marking-done" in faults
        self.sweeper = Sweeper(self.changed, late_count="sweep-done-before-popped-page-counted" in faults)
        self.collections = 0
        self._code_released = 0

    @property
    def freed(self) -> int:
        """Objects freed so far: code released off the weak list, and what the sweeper freed."""
        return self._code_released + self.sweeper.freed

    # -- lifecycle (the sweeper thread) ---------------------------------------------

    def start(self, isolate: Isolate) -> None:
        if self.concurrent:
            active_scheduler().spawn("sweeper", self._sweeper_main, isolate)
        for index in range(1, self._helpers + 1):
            active_scheduler().spawn(f"sweeper-{index}", self._helper_main, isolate, f"sweeper-{index}")

    def shutdown(self) -> None:
        with self.lock:
            self._shutdown = True
            self.changed.notify_all()

    def start_sweeping(self) -> None:
        """The pause's checks are done: the sweeper may run (concurrently with mutators)."""
        with self.lock:
            self._released = self._pending is not None
            self.changed.notify_all()

    def ensure_sweeping_completed(self, isolate: Isolate) -> None:
        """Before a mark-compact: wait until the last one's sweep is done (``EnsureSweepingCompleted``)."""
        if not self.concurrent:
            return
        with self.lock:
            self.changed.wait_for(lambda: self._pending is None and not self._sweeping, abandon=isolate.is_aborted)

    def pause_sweeping(self, isolate: Isolate) -> None:
        """At a scavenge's start: stop the sweeper at a page boundary (V8's ``Sweeper::PauseScope``).

        Returns once the sweeping thread is between pages and has retired
        the weak list of its job (or has no job): from then on it touches
        no page until :meth:`resume_sweeping`.
        """
        if not self.concurrent:
            return
        with self.lock:
            self.sweeper.request_pause()
            self.changed.wait_for(
                lambda: not self._released and (not self._sweeping or self._retired) and self._sweepers_idle(),
                abandon=isolate.is_aborted,
            )

    def _sweepers_idle(self) -> bool:
        """Lock held: no thread sweeps a page: by their items, or (several threads) by their count.

        With several sweeping threads the count is the one record of who is
        sweeping, as Go's ``mheap_.sweepers`` is: what "done" reads, a pause reads too.
        """
        return self.sweeper.none_counted if self._helpers else self.sweeper.between_items

    def resume_sweeping(self) -> None:
        """The scavenge is over: the sweeper may go on."""
        if self.concurrent:
            self.sweeper.resume()

    def ensure_swept(self, page: Page, isolate: Isolate) -> None:
        """Before rewriting an object's header: its page must be swept (``EnsureSweepingCompletedForObject``).

        With several sweeping threads: all sweeping must be done, as the
        crbug.com/1228036 fix itself asks (``EnsureSweepingCompleted``), which
        trusts the sweepers' "done" (Go's ``isSweepDone``).
        """
        if self._helpers:
            with self.lock:
                # Go's isSweepDone, read directly: drained and nobody counted.
                self.changed.wait_for(
                    lambda: self._pending is None and (not self._sweeping or self.sweeper.sweeping_done),
                    abandon=isolate.is_aborted,
                )
        elif self.concurrent:
            self.sweeper.ensure_page_swept(page, isolate.is_aborted)

    def _sweeper_main(self, isolate: Isolate) -> None:
        try:
            self._serve(isolate)
        except (Exception, Halt) as error:  # a halt can reach the idle sweeper too
            isolate.report_thread_failure("sweeper", error)

    def _serve(self, isolate: Isolate) -> None:
        """Sweep after each mark-compact until shutdown or abort."""
        while True:
            with self.lock:
                # Idle between mark-compacts is not a liveness failure: no
                # timeout (and no point passed while idle); a halt goes up.
                self.changed.wait_for(
                    lambda: self._released or self._shutdown, timeout=math.inf, abandon=isolate.is_aborted
                )
                if self._pending is None or not self._released:
                    return  # shutdown or abort
                marked, watermark = self._pending
                self._job = (self.sweeper.generation, watermark)
                self._pending = None
                self._released = False
                self._sweeping = True
                self._retired = False
            try:
                isolate.events.record("sweeper-start", "concurrent sweep after mark-compact")
                self._sweep(isolate, marked, watermark)
                if self._helpers:
                    with self.lock:
                        # The job ends when sweeping is done: drained, nobody counted.
                        self.changed.wait_for(lambda: self.sweeper.sweeping_done, abandon=isolate.is_aborted)
                isolate.events.record("sweeper-done", f"{self.freed} objects freed so far")
            finally:
                with self.lock:
                    self._sweeping = False
                    self.changed.notify_all()

    def _helper_main(self, isolate: Isolate, name: str) -> None:
        try:
            self._help(isolate, name)
        except (Exception, Halt) as error:
            isolate.report_thread_failure(name, error)

    def _help(self, isolate: Isolate, name: str) -> None:
        """A further sweeping thread: sweeps pages of each job once its weak list is retired."""
        while True:
            with self.lock:
                self.changed.wait_for(
                    lambda: self._shutdown or (self._sweeping and self._retired and self.sweeper.has_pages()),
                    timeout=math.inf,
                    abandon=isolate.is_aborted,
                )
                if self._shutdown or isolate.is_aborted():
                    return
                generation, watermark = self._job
            self.sweeper.sweep_pages_counted(isolate, generation, watermark, name, isolate.is_aborted)

    # -- the collection --------------------------------------------------------

    def collect(self, isolate: Isolate) -> None:
        """With the world stopped: mark, then sweep now or hand the sweep over."""
        self.collections += 1
        marked: set[int] = set()
        grey: list[HeapObject] = []

        def mark(value: object) -> None:
            if isinstance(value, HeapObject) and value.lid not in marked:
                marked.add(value.lid)
                grey.append(value)

        def trace() -> None:
            while grey:
                obj = grey.pop()
                point("mark-object", obj.lid)
                fields = obj.fields
                for index in tagged_fields(obj):  # untagged words are data
                    mark(fields[index])

        for area in isolate.root_areas():
            for value in area:
                mark(value)
        for function in isolate.deoptimizer.functions if isolate.deoptimizer else ():
            mark(function.interpreter_code)
            mark(function.optimized_code)
            mark(function.specialized)  # strong while its code is current; code embeds it weakly
        trace()
        if self._early_unlink:
            self._retire_dead_code(isolate, marked, isolate.heap.next_lid())
        for mutator in isolate.mutators:
            for frame in mutator.frames:
                if not frame.deoptimized:  # a patched frame no longer runs its old code
                    mark(frame.code)
        trace()
        isolate.events.record("mark-compact", f"marking done: {len(marked)} objects live")
        # Objects allocated after marking (higher logical ids) are live however
        # the sweep is late: V8 allocates black during and after marking.
        watermark = isolate.heap.next_lid()
        self.sweeper.prepare(isolate.heap)
        if self._helpers:
            self.sweeper.set_marks(marked)
        if self.concurrent:
            with self.lock:
                self._pending = (marked, watermark)  # started by start_sweeping()
        else:
            self._sweep(isolate, marked, watermark)

    def _retire_dead_code(self, isolate: Isolate, marked: set[int], watermark: int) -> list[Code]:
        """Unlink every unmarked weak-list entry and release it."""
        # Code newer than the marking (optimized, then deoptimized, while a
        # concurrent sweep was pending) was never judged: it is not dead.
        removed = isolate.heap.weak_code_list.unlink_if(lambda code: code.lid not in marked and code.lid < watermark)
        for code in removed:
            point("code-release", code.lid)
            poison(code, Map.FREED)
            self._code_released += 1
            isolate.events.record("weak-list-unlink", f"code #{code.lid} unlinked and released (no activation left)")
        return removed

    def _sweep(self, isolate: Isolate, marked: set[int], watermark: int) -> None:
        """Unlink dead weak-list entries, then sweep every page (dead objects older than ``watermark``)."""
        with self.lock:
            self.sweeper.begin(isolate, "weak list")
        try:
            self._retire_dead_code(isolate, marked, watermark)
        finally:
            with self.lock:
                self._retired = True
                self.sweeper.end(isolate)
        if self._helpers:
            self.sweeper.sweep_pages_counted(isolate, self._job[0], watermark, "sweeper", isolate.is_aborted)
        else:
            self.sweeper.sweep_pages(isolate, marked, watermark, isolate.is_aborted)
