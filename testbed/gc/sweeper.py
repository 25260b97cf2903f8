"""The sweeper: frees what a mark-compact left unmarked, page by page; pauses for scavenges.

Mirrors V8's ``Sweeper`` (src/heap/sweeper.cc) in the parts the bugs of
docs/bugs/ depend on:

* at the end of marking every old and code page goes on the sweeping list
  (``StartSweeping``), with the extent it had at marking; sweeping threads
  take pages from the back of the list (``GetSweepingPageSafe``);
* sweeping a page (``RawSweep``) walks its live objects in address order,
  reads each one's size from its header (``object.map(kAcquireLoad)``, then
  ``SizeFromMap``), frees the gap before it and the memory after the last
  one, and drops the OLD_TO_NEW slots of every freed range
  (``RememberedSet<OLD_TO_NEW>::RemoveRange``);
* ``EnsurePageIsSwept`` (reached through ``Heap::EnsureSweepingCompletedForObject``):
  a thread about to rewrite an object's header waits until the object's page
  is swept, so no sweeper reads a header half rewritten (crbug.com/1228036);
* ``PauseScope`` (``ScavengerCollector::CollectGarbage``): a scavenge pauses
  the concurrent sweeper, which stops at the next page boundary, and
  resumes it afterwards.  V8's scavenger relies on it when it records
  OLD_TO_NEW slots ("Sweeper is stopped during scavenge, so we can directly
  insert into its remembered set here", src/heap/scavenger.cc).

The thread that sweeps tells the isolate's observer as it begins and ends
each item (a page, or ``"weak list"`` while it retires dead code):
``on_sweep_start`` / ``on_sweep_end``, on its own thread.

Freeing a range drops its remembered slots with a read-modify-write of each
slot-set cell under the remembered set's mutex, the one mutators' flushes
take; the scavenger's own slot-set writes do not take it (V8: "Sweeper is
stopped during scavenge, so we can directly insert into its remembered set
here", src/heap/scavenger.cc), so a sweep that runs through a scavenge can
write a stale cell back over the scavenger's insert or removal.

Freeing puts the freed ranges of an old-space page on old space's free list
(:mod:`testbed.heap.free_list`, V8's ``FreeList`` filled by
``RawSweep``) once the whole page is swept (``AddSweptPage``); ``prepare``
empties the free list, as ``StartSweeping`` takes the pages to sweep off
it, so allocation only ever reuses memory of a page already swept.  That is
the ordering V8's ``EnsureSweepingCompleted`` / sweeping on allocation
protect: memory of a page not yet swept is handed out only by sweeping it.

Simplified: freeing also zaps the freed words (:data:`testbed.heap.ZAP`): a
dead object whose words are all freed is poisoned ``FREED``; a live object
some of whose words were freed (its size was misread) keeps its map, and the
freed fields read ``ZAP`` until an allocation reuses them (then the whole
object reads poison, see ``Page.place``).  A page's extent at marking is what
was allocated on it then: everything allocated later lies above it or on a
range of a page already swept.  Code space keeps no free list.  V8's
``EnsurePageIsSwept`` sweeps a page no sweeper has taken yet on the calling
thread; here the caller waits for the sweeper thread to reach it.  V8 sweeps
on several job workers; here one sweeper thread (or the pause, without
concurrent sweeping) sweeps every page by default; V8's allocator also sweeps pages
itself when the free list runs dry (``ContributeToSweepingMain``), where the
model's allocator bumps (expands) instead.

Several sweeping threads (``Config.sweeper_threads`` above 1) follow Go's
sweeper instead (src/runtime/mgcsweep.go): each thread is counted while it
sweeps and one that finds the list empty sets "drained" (``activeSweep``,
``sweepone``); sweeping is done when the list was drained and nobody is
counted (``isSweepDone``), which is what ending a sweep, the next
mark-compact and a scavenge's pause wait for; a page's marks are consumed
by sweeping it, as Go's ``mspan.sweep`` turns the span's ``gcmarkBits``
into its ``allocBits``; and each sweep has a generation (``mheap_.sweepgen``)
so a thread of an older sweep takes no page of a newer one.  The fault
``sweep-done-before-popped-page-counted`` counts a thread only after it
popped its page, as before the fix of golang/go#46500.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from testbed.heap import OLD, ZAP, Map, Page, poison, size_from_map
from testbed.sched import Condition, point

if TYPE_CHECKING:
    from testbed.heap import Heap, HeapObject
    from testbed.runtime import Isolate

__all__ = ["Sweeper"]


class Sweeper:
    """The sweeping list of the last mark-compact, and the pause protocol.

    Shares the mark-compact's lock (``changed`` is a condition on it), so a
    pause can wait for "between pages" and "done with the weak list" at once.
    """

    def __init__(self, changed: Condition, late_count: bool = False) -> None:
        self.changed = changed
        #: pages still to sweep, with the word extent each had at marking
        self._unswept: list[tuple[Page, int]] = []
        self._pause_requested = False
        #: the item each sweeping thread is on (a page name, "weak list"), by thread;
        #: what a pause and EnsurePageIsSwept wait on
        self._items: dict[str, str] = {}
        #: several sweeping threads (Go's ``mheap_.sweepers`` and ``sweepDrained``): how many
        #: said they are sweeping, and whether one found the list empty since ``prepare``
        self._active = 0
        self._drained = False
        #: which sweep this is (Go's ``mheap_.sweepgen``): ``prepare`` moves it on, and a
        #: thread sweeping for an older one takes no page of the new list (``sweepLocker``)
        self.generation = 0
        #: the marks of the last marking, and the pages whose marks a sweep has read since
        self._marks: set[int] = set()
        self._marks_read: set[str] = set()
        #: the fault ``sweep-done-before-popped-page-counted`` (golang/go#46500)
        self._late_count = late_count
        #: objects freed whole
        self.freed = 0

    # -- the sweeping list ------------------------------------------------------

    def prepare(self, heap: Heap) -> None:
        """End of marking (world stopped): every code and old page, up to its extent now.

        Taken from the back, as V8's ``GetSweepingPageSafe`` does: the newest
        old pages first (V8 keeps a list per space).
        """
        pages: list[tuple[Page, int]] = []
        for space in (heap.code_space, heap.old_space):
            top_page, top_word = space.top
            for page in space.pages:
                extent = page.capacity if page.index < top_page else top_word if page.index == top_page else 0
                if extent:
                    pages.append((page, extent))
        heap.old_space.reset_free_list()
        with self.changed:
            self._unswept = pages
            self._drained = False
            self.generation += 1

    def sweep_pages(
        self, isolate: Isolate, marked: set[int], watermark: int, aborted: Callable[[], bool] | None = None
    ) -> None:
        """Sweep the listed pages one at a time, stopping between pages while a pause is requested."""
        while True:
            with self.changed:
                if self._pause_requested:
                    isolate.events.record("sweeper-paused", f"between pages, {len(self._unswept)} left")
                    # Paused for as long as the scavenge lasts: no timeout, as for idle waits.
                    self.changed.wait_for(lambda: not self._pause_requested, timeout=math.inf, abandon=aborted)
                if not self._unswept or (aborted is not None and aborted()):
                    return
                page, extent = self._unswept.pop()
                self.begin(isolate, page.name)
            try:
                self._sweep_page(isolate.heap, page, extent, marked, watermark)
            finally:
                with self.changed:
                    self.end(isolate)

    # -- several sweeping threads (Go's sweepone, activeSweep) -------------------

    def set_marks(self, marked: set[int]) -> None:
        """End of marking (world stopped): the marks every page is swept against from now on.

        Go keeps mark bits per span (``gcmarkBits``) and sweeping a span
        consumes them: ``mspan.sweep`` makes them the span's ``allocBits``
        and gives it cleared mark bits "in preparation for the next GC
        round".  Here the marks of the last marking are read per page when
        a counted sweeper starts it, and a page read once reads no marks
        again until the next marking.
        """
        with self.changed:
            self._marks = marked
            self._marks_read = set()

    def _page_marks(self, page: Page) -> set[int]:
        """Lock held: the page's marks, consumed (Go's gcmarkBits swapped into allocBits)."""
        if page.name in self._marks_read:
            return set()
        self._marks_read.add(page.name)
        return self._marks

    def sweep_pages_counted(
        self, isolate: Isolate, generation: int, watermark: int, who: str, aborted: Callable[[], bool]
    ) -> None:
        """One of several sweeping threads: take and sweep pages of sweep ``generation`` until drained.

        Each thread is counted while it sweeps, as Go's sweepers are
        (``sweep.active.begin``/``end``), so :attr:`sweeping_done` (Go's
        ``isSweepDone``) holds only when the list was found drained and no
        thread still has a page.
        """
        while True:
            with self.changed:
                if self._pause_requested:
                    isolate.events.record("sweeper-paused", f"{who} between pages, {len(self._unswept)} left")
                    self.changed.wait_for(lambda: not self._pause_requested, timeout=math.inf, abandon=aborted)
                taken = self._take_counted(isolate, who, generation, aborted)
                if taken is None:
                    return
                page, extent = taken
                marked = None if self._late_count else self._page_marks(page)
            if marked is None:
                # The bug (golang/go#46500): the page is popped but this thread is
                # counted only now, as the pre-fix tryAcquire counted a sweeper.
                point("sweeper-count", page.name)
                with self.changed:
                    self._active += 1
                    marked = self._page_marks(page)
            try:
                self._sweep_page(isolate.heap, page, extent, marked, watermark)
            finally:
                with self.changed:
                    self._active -= 1
                    self.end(isolate, who)

    def _take_counted(
        self, isolate: Isolate, who: str, generation: int, aborted: Callable[[], bool] | None
    ) -> tuple[Page, int] | None:
        """Lock held: pop a page for ``who``; None once the list is drained (Go's ``sweepone``).

        After the Go fix (golang/go#46500) a thread counts itself before it
        pops, and never once the list was found drained (``activeSweep.begin``
        fails), so "drained and nobody counted" means every popped page is
        swept.  Before the fix (``late_count``) it popped first and was
        counted only when it acquired the page (``sweepLocker.tryAcquire``).
        A thread of an older sweep takes nothing from a newer list: Go's
        ``tryAcquire`` moves a span's sweepgen from the locker's ``h-2`` to
        ``h-1`` only.
        """
        if (aborted is not None and aborted()) or generation != self.generation:
            return None
        if not self._late_count:
            if self._drained:
                return None
            self._active += 1
        if not self._unswept:
            self._drained = True
            if not self._late_count:
                self._active -= 1
            isolate.events.record("sweeper-drained", f"{who} found no page left; {self._active} counted sweeping")
            self.changed.notify_all()
            return None
        page, extent = self._unswept.pop()
        self.begin(isolate, page.name, who)
        return page, extent

    @property
    def sweeping_done(self) -> bool:
        """Lock held: Go's ``isSweepDone``: the list was found drained and no thread is counted sweeping."""
        return self._drained and self._active == 0

    @property
    def none_counted(self) -> bool:
        """Lock held: no thread is counted sweeping (Go's ``mheap_.sweepers == 0``)."""
        return self._active == 0

    def begin(self, isolate: Isolate, item: str, who: str = "sweeper") -> None:
        """Lock held: the calling (sweeping) thread starts on ``item`` and says so."""
        self._items[who] = item
        isolate.observer.on_sweep_start(isolate, item)

    def end(self, isolate: Isolate, who: str = "sweeper") -> None:
        """Lock held: the sweeping thread is between items again."""
        item = self._items.pop(who, None)
        if item is not None:
            isolate.observer.on_sweep_end(isolate, item)
        self.changed.notify_all()

    def has_pages(self) -> bool:
        """Lock held: pages are listed and the list was not found drained."""
        return bool(self._unswept) and not self._drained

    @property
    def between_items(self) -> bool:
        """Lock held: no sweeping thread is on a page or on the weak list."""
        return not self._items

    def unswept(self, page: Page) -> bool:
        """Lock held: the page is still listed or being swept."""
        return page.name in self._items.values() or any(listed is page for listed, _ in self._unswept)

    # -- the pause protocol (the scavenger) and EnsurePageIsSwept (the deoptimizer) --

    def request_pause(self) -> None:
        """Lock held: the sweeping thread stops at its next page boundary."""
        self._pause_requested = True

    def resume(self) -> None:
        with self.changed:
            self._pause_requested = False
            self.changed.notify_all()

    def ensure_page_swept(self, page: Page, aborted: Callable[[], bool]) -> None:
        """Return once ``page`` is swept (at once if it is not on the list)."""
        with self.changed:
            self.changed.wait_for(lambda: not self.unswept(page), abandon=aborted)

    # -- RawSweep -------------------------------------------------------------

    def _sweep_page(self, heap: Heap, page: Page, extent: int, marked: set[int], watermark: int) -> None:
        """Free every word of the page's extent not covered by a live object, as the headers say."""
        # The objects that were on the page at marking; newer ones lie above the extent.
        objects = [obj for obj in page.objects() if obj.offset < extent]
        freed: list[tuple[int, int]] = []
        free_start = 0
        for obj in objects:
            if obj.is_dead or (obj.lid not in marked and obj.lid < watermark):
                continue  # not live: part of a free range
            if obj.offset > free_start:
                self._free(heap, page, free_start, obj.offset)
                freed.append((free_start, obj.offset))
            point("sweep-read-size", obj.lid)
            free_start = max(free_start, obj.offset + size_from_map(obj))
        if extent > free_start:
            self._free(heap, page, free_start, extent)
            freed.append((free_start, extent))
        if page.owner == OLD:
            # The swept page's free memory goes to the allocator (AddSweptPage, RefillFreeList).
            heap.old_space.add_free(page, freed)

    def _free(self, heap: Heap, page: Page, start: int, end: int) -> None:
        """Free words ``[start, end)``: zap what covers them, drop their remembered slots."""
        address = start
        words = page.words
        while address < end:
            obj = words[address]
            if obj is None:
                address += 1
                continue
            obj_end = obj.offset + obj.size
            if obj.offset >= start and obj_end <= end:
                if not obj.is_dead:
                    point("sweep-free", obj.lid)
                    poison(obj, Map.FREED)
                    self.freed += 1
            else:
                point("sweep-free", obj.lid)
                _zap_fields(obj, max(address, obj.offset + 1), min(end, obj_end))
            address = min(end, obj_end)
        heap.remembered_set.remove_range(page, start, end)


def _zap_fields(obj: HeapObject, start: int, end: int) -> None:
    """Zap the fields of ``obj`` lying in page words ``[start, end)``: freed memory inside a live object."""
    # A mutator may have trimmed the object since its size was read (the
    # JSON parser's number buffer): words past its fields are no longer its.
    fields = obj.fields
    for address in range(start, min(end, obj.offset + 1 + len(fields))):
        fields[address - obj.offset - 1] = ZAP
