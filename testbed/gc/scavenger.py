"""The scavenger: a semispace copying collection of new space, serial or parallel.

Mirrors V8's ``ScavengerCollector::CollectGarbage`` (src/heap/scavenger.cc):
flip the semispaces; split the roots (global handles, each thread's handle
scopes and frames) and the OLD_TO_NEW remembered set's pages into items;
run scavenger tasks that claim items, evacuate what they point at and then
drain the worklist, stealing from each other, until they find no work left;
wait for every task (``JobHandle::Join``); zap from-space and move the age
mark.  Only then may the world resume: V8's safepoint resumes the mutators
after the whole ``CollectGarbage``.

``SerialScavenger`` runs one task on the thread that stopped the world.
``ParallelScavenger`` keeps a pool of real worker threads (V8's job workers
on the platform's worker threads), idle between collections; the initiator
hands them a job and waits until every task has finished before it
finishes the collection.  Each task tells the isolate's observer when it
begins and ends its part (``on_gc_task_start`` / ``on_gc_task_end``), on
its own thread, as it does it.

Simplified: every old-space page is an item, whether or not its slot set
holds anything; a root area is split into items of ``ROOT_CHUNK`` slots
(V8's main thread visits the roots while the job's tasks process
remembered-set pages); in the parallel scavenger the initiator only waits (V8's
main thread takes part in the job); there is no large-object space and no
weak-reference processing.

With ``Config.card_chunk_cells`` an old page is several items instead, chunks
of that many slot-set cells that tasks claim one by one, as .NET's card
marking stealing hands out 2 MB chunks (``card_marking_enumerator``,
src/coreclr/gc/gc.cpp); see :meth:`Evacuator.visit_remembered_chunk`.

Fault ``resume-before-workers-done``: the initiator waits only for the first
task to finish.  A task returns as soon as it finds no item and no segment
to steal, while another may still be copying its local objects or
scanning a remembered page; the initiator then zaps from-space under it
(forwarding addresses included) and the mutators resume with fields still
pointing into from-space.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from testbed.gc.evacuator import Evacuator
from testbed.gc.worklist import ItemQueue, Worklist
from testbed.heap import CELL_BITS, HeapObject, Page, Tagged
from testbed.sched import Condition, Halt, Lock, active_scheduler

if TYPE_CHECKING:
    from testbed.runtime import Isolate

__all__ = ["ParallelScavenger", "ScavengeJob", "SerialScavenger"]

#: a slice of a root area (the area, first slot, end), an old page, or a chunk (page, first word, end)
Item = tuple[str, tuple[list[Tagged], int, int] | Page | tuple[Page, int, int]]

#: root slots per item
ROOT_CHUNK = 64


class ScavengeJob:
    """One collection's shared state: items, worklist, and the tasks' results."""

    def __init__(self, isolate: Isolate, tasks: int) -> None:
        self.isolate = isolate
        heap = isolate.heap
        heap.new_space.flip()
        # A long root area is split into items of ROOT_CHUNK slots: objects a
        # root refers to are copied by whoever visits the root (as V8's root
        # visitor copies them), so one item holding every root would leave
        # the copying to one task however many there are.
        items: list[Item] = [
            ("roots", (area, start, min(start + ROOT_CHUNK, len(area))))
            for area in isolate.root_areas()
            for start in range(0, len(area), ROOT_CHUNK)
        ]
        chunk_words = heap.card_chunk_cells * CELL_BITS
        if chunk_words:
            items.extend(
                ("chunk", (page, start, min(start + chunk_words, page.capacity)))
                for page in list(heap.old_space.pages)
                for start in range(0, page.capacity, chunk_words)
            )
        else:
            items.extend(("page", page) for page in list(heap.old_space.pages))
        self.items: ItemQueue[Item] = ItemQueue(items)
        self.worklist = Worklist(tasks, isolate.config.faults)
        #: local objects a task holds before it publishes the older half (``Config.worklist_segment``)
        self.segment = isolate.config.worklist_segment
        self.evacuators: list[Evacuator] = []
        self.finished = 0
        #: ``perf_counter`` when the job was handed to the tasks, and when the last task ended
        #: (a measurement for ``RunStats.parallel_s``, never part of a decision)
        self.published = 0.0
        self.last_end = 0.0

    def run_task(self, name: str) -> Evacuator:
        """One scavenger task: claim items, then drain and steal until no work is left in sight.

        Like V8's ``Scavenger::Process``, a task returns once its local list
        and the global pool are empty, even while other tasks still hold
        local work: they look at the pool again before returning, so a
        segment published late is scanned by its publisher.
        """
        isolate = self.isolate
        observer = isolate.observer

        def on_slot_read(host: HeapObject, index: int, value: Tagged) -> None:
            observer.on_slot_read(isolate, name, host, index, value)

        evacuator = Evacuator(isolate.heap, isolate.config.faults, name, on_slot_read)
        while (item := self.items.claim()) is not None:
            kind, target = item
            if kind == "roots":
                area, start, stop = target  # type: ignore[misc]
                evacuator.visit_roots(area, start, stop)
            elif kind == "chunk":
                page, first, end = target  # type: ignore[misc]
                evacuator.visit_remembered_chunk(page, first, end)
            else:
                evacuator.visit_remembered_page(target)  # type: ignore[arg-type]
            self._drain(evacuator)
        while True:
            self._drain(evacuator)
            segment = self.worklist.steal()
            if segment is None:
                break
            evacuator.steals += 1
            evacuator.grey.extend(segment)
        evacuator.give_up_labs()
        self.isolate.events.record(
            "scavenge-task",
            f"{name}: {evacuator.copied} copied, {evacuator.promoted} promoted, {evacuator.steals} steals, "
            f"{evacuator.races_lost} forwarding races lost",
        )
        return evacuator

    def _drain(self, evacuator: Evacuator) -> None:
        grey = evacuator.grey
        while grey:
            if len(grey) > self.segment and self.worklist.tasks > 1:
                half = len(grey) // 2
                self.worklist.publish(grey[:half])
                del grey[:half]
            evacuator.scan(grey.pop())

    def finish(self) -> None:
        """Zap from-space, move the age mark, record deferred slots, add the tasks' counters to the run's."""
        heap = self.isolate.heap
        stats = self.isolate.stats
        started = time.perf_counter()
        for page in heap.new_space.from_space.pages:
            page.release()
        stats.zap_s += time.perf_counter() - started
        stats.parallel_s += max(0.0, self.last_end - self.published)
        heap.new_space.set_age_mark()
        for evacuator in self.evacuators:
            if evacuator.deferred:
                heap.remembered_set.insert_batch(evacuator.deferred)
            stats.copied += evacuator.copied
            stats.promoted += evacuator.promoted
            stats.forwarding_races_lost += evacuator.races_lost
            stats.steals += evacuator.steals
            stats.remset_slots_kept += evacuator.slots_kept
            stats.remset_slots_dropped += evacuator.slots_dropped
            per_worker = stats.per_worker.setdefault(evacuator.name, {"copied": 0, "promoted": 0})
            per_worker["copied"] += evacuator.copied
            per_worker["promoted"] += evacuator.promoted


class SerialScavenger:
    """One scavenger task, on the thread that stopped the world."""

    workers = 0

    def start(self, isolate: Isolate) -> None:
        """Nothing to start: the initiator does the work."""

    def shutdown(self) -> None:
        """Nothing to stop."""

    def scavenge(self, isolate: Isolate) -> None:
        job = ScavengeJob(isolate, tasks=1)
        job.published = time.perf_counter()
        isolate.observer.on_gc_task_start(isolate, "initiator")
        try:
            job.evacuators.append(job.run_task("initiator"))
        finally:
            isolate.observer.on_gc_task_end(isolate, "initiator")
        job.last_end = time.perf_counter()
        job.finish()


class ParallelScavenger:
    """A persistent pool of ``workers`` scavenger threads."""

    def __init__(self, workers: int, faults: frozenset[str] = frozenset()) -> None:
        if workers < 1:
            raise ValueError(f"a parallel scavenger needs at least one worker, got {workers}")
        self.workers = workers
        self.lock = Lock("scavenger-pool")
        self.changed = Condition(self.lock, "scavenger-pool")
        self._job: ScavengeJob | None = None
        self._epoch = 0
        self._shutdown = False
        self._resume_early = "resume-before-workers-done" in faults
        self._isolate: Isolate | None = None

    def start(self, isolate: Isolate) -> None:
        """Spawn the workers (before the mutators, so they idle from the start)."""
        self._isolate = isolate
        scheduler = active_scheduler()
        for index in range(self.workers):
            scheduler.spawn(f"scavenger-{index}", self._worker_main, index)

    def shutdown(self) -> None:
        """Tell idle workers to exit (the isolate is being torn down)."""
        with self.lock:
            self._shutdown = True
            self.changed.notify_all()

    def scavenge(self, isolate: Isolate) -> None:
        job = ScavengeJob(isolate, tasks=self.workers)
        with self.lock:
            job.published = time.perf_counter()
            self._job = job
            self._epoch += 1
            self.changed.notify_all()
            needed = 1 if self._resume_early else self.workers
            self.changed.wait_for(lambda: job.finished >= needed, abandon=isolate.is_aborted)
        job.finish()

    def _worker_main(self, index: int) -> None:
        isolate = self._isolate
        assert isolate is not None
        name = f"scavenger-{index}"
        try:
            self._serve(isolate, name)
        except (Exception, Halt) as error:  # a halt can reach an idle worker too
            isolate.report_thread_failure(name, error)

    def _serve(self, isolate: Isolate, name: str) -> None:
        """Run one task per job until shutdown or abort."""
        seen = 0
        while True:
            with self.lock:
                if not self._idle_until_job(seen, isolate.is_aborted):
                    return
                seen = self._epoch
                job = self._job
                assert job is not None
            evacuator: Evacuator | None = None
            isolate.observer.on_gc_task_start(isolate, name)
            try:
                evacuator = job.run_task(name)
            except Exception as error:
                isolate.report_thread_failure(name, error)
            finally:
                isolate.observer.on_gc_task_end(isolate, name)
                with self.lock:
                    if evacuator is not None:
                        job.evacuators.append(evacuator)
                    job.finished += 1
                    job.last_end = time.perf_counter()
                    self.changed.notify_all()

    def _idle_until_job(self, seen: int, aborted: Callable[[], bool]) -> bool:
        """Lock held: wait for a new job (True) or shutdown (False).

        Idle time between collections is unbounded, so this wait has no
        timeout (``math.inf``) instead of catching ``WaitTimeout`` and
        waiting again: it never fails, passes no scheduling point while
        idle (so it never looks like progress to another thread's wait),
        and a halt (a deadlock, the step limit) still goes straight up to
        :meth:`_worker_main`.  Only shutdown or abort ends it.
        """
        woken = self.changed.wait_for(lambda: self._epoch != seen or self._shutdown, timeout=math.inf, abandon=aborted)
        return woken and not self._shutdown
