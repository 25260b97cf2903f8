"""The isolate: one heap, its mutator threads, the safepoint and the roots.

Mirrors V8's ``Isolate`` + ``Heap::CollectGarbage``: the isolate owns the
heap and the global handles, starts the mutator threads, and when a thread
asks for a collection it stops the world through the safepoint, gives up
every LAB, pauses a concurrent sweeper for the scavenge (V8 does this in
``ScavengerCollector::CollectGarbage`` with a ``Sweeper::PauseScope``; here
the pause brackets the verifier's look too), lets the observer verify the
stopped world, runs the collector and lets the observer verify the result.
A mark-compact first waits for the last sweep to finish.

Fault ``scavenge-while-sweeping`` skips the pause: the sweeper goes on
sweeping pages while the scavenger runs.

With ``Config.locker`` the mutators take turns through the isolate's
Locker (:mod:`testbed.runtime.locker`) instead of running at once.

Simplified: every collection is a scavenge requested by a mutator (a failed
young allocation, or ``gc_interval``), and a mark-compact runs in the same
pause after every ``mark_compact_every``-th scavenge; the global handles are
one list partitioned between the mutators.

A violation reported by the observer, a wait timeout or a crash aborts the
run: the abort flag makes every wait give up and every poll unwind, so no
thread is left behind.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import psutil
from loguru import logger

from testbed.heap import Heap, Tagged
from testbed.runtime.config import Config
from testbed.runtime.events import EventLog
from testbed.runtime.locker import IsolateLocker
from testbed.runtime.mutator import Mutator
from testbed.runtime.observer import Collector, FullCollector, Observer
from testbed.runtime.safepoint import RunAborted, Safepoint, ThreadState
from testbed.runtime.stats import RunStats
from testbed.runtime.workload import standard_program
from testbed.sched import (
    AtomicCounter,
    Halt,
    Patience,
    Scheduler,
    Violation,
    WaitTimeout,
    active_scheduler,
    derive_seed,
    thread_stacks,
)

__all__ = ["Isolate", "derive_seed"]

#: how often the main thread checks on a run it waits for (seconds)
_JOIN_SLICE = 0.1


class Isolate:
    """One run of the model."""

    def __init__(
        self,
        config: Config,
        collector: Collector,
        observer: Observer | None = None,
        full_collector: FullCollector | None = None,
    ) -> None:
        self.config = config
        self.collector = collector
        self.full_collector = full_collector
        self.observer = observer or Observer()
        #: calls, guards and deopts (testbed.deopt); set by whoever builds the run
        self.deoptimizer: Any = None
        self.events = EventLog()
        # New space must hold a few LABs per mutator, or the threads' LABs
        # alone exhaust it and collections cannot make room.
        lab_pages = -(-4 * config.mutators * config.lab_words // config.page_words)
        new_space_pages = max(config.new_space_pages, lab_pages)
        self.heap = Heap(new_space_pages, config.page_words, config.lab_words, config.faults, config.card_chunk_cells)
        self.globals: list[Tagged] = [None] * (config.mutators * config.globals_per_mutator)
        self.stats = RunStats()
        self.violations: list[Violation] = []
        self._aborted = False
        #: a non-liveness halt (a diverged replay): the run is invalid, not failed
        self.halted: Halt | None = None
        # First report wins, decided by a ticket instead of a Lock: an atomic
        # fetch-and-add is no scheduling point, so no halt (step limit,
        # diverged replay) can land inside the reporting of a violation or of
        # another halt.  The same goes for counting the mutators whose program
        # ended.  Not itertools.count, atomic only under the GIL: on a
        # free-threaded build two mutators ending at once could draw the same
        # number, and the collector would never be shut down.
        self._report_tickets = AtomicCounter()
        self._halt_tickets = AtomicCounter()
        self._finished = AtomicCounter(1)
        self._process = psutil.Process()
        self.mutators = [Mutator(self, i, derive_seed(config.seed, 1, i)) for i in range(config.mutators)]
        self.safepoint = Safepoint(self.mutators, self.is_aborted, config.faults)
        #: the v8::Locker JS threads take turns through (None: they all run at once)
        self.locker = IsolateLocker(self.safepoint, self.is_aborted, self.events) if config.locker else None
        #: fault ``scavenge-while-sweeping``: the scavenge does not pause the concurrent sweeper
        self._sweep_through_scavenge = "scavenge-while-sweeping" in config.faults

    # -- violations ------------------------------------------------------------

    def is_aborted(self) -> bool:
        return self._aborted

    def report(self, violations: list[Violation]) -> None:
        """Record violations and abort the run (first checkpoint wins)."""
        if not violations:
            return
        if not self._aborted and self._report_tickets.fetch_add() == 0:
            self.violations.extend(violations)
            for violation in violations:
                logger.info("{} on {}: {}", violation.invariant, violation.thread, violation.message)
        self._aborted = True
        active_scheduler().interrupt_waits()

    def report_thread_failure(self, thread: str, error: BaseException) -> None:
        """What a model thread's top level caught ends the run.

        A liveness halt (deadlock, livelock) or a wait timeout is a
        ``safepoint-liveness`` violation with the stacks; any other halt
        makes the run invalid (kept in :attr:`halted`, no violation); any
        other exception is a ``model-error`` with its traceback.
        """
        if isinstance(error, Halt) and not error.liveness:
            if self._halt_tickets.fetch_add() == 0:
                self.halted = error
            self._aborted = True
            active_scheduler().interrupt_waits()
        elif isinstance(error, Halt | WaitTimeout):
            self.report([self.violation("safepoint-liveness", f"{thread} {error}", error.stacks)])
        else:
            self.report(
                [
                    self.violation(
                        "model-error",
                        f"{thread} raised {_described(error)} ({_raised_at(error)})",
                        {thread: traceback.format_exception(error)},
                    )
                ]
            )

    def violation(self, invariant: str, message: str, stacks: dict[str, list[str]] | None = None) -> Violation:
        return Violation(
            invariant,
            message,
            step=active_scheduler().steps,
            thread=threading.current_thread().name,
            stacks=stacks or {},
        )

    # -- collection ------------------------------------------------------------

    def collect_garbage(self, initiator: Mutator) -> None:
        """Stop the world and scavenge (``Heap::CollectGarbage(NEW_SPACE)``)."""
        self.safepoint.stop_the_world(initiator, self._collect)
        if self._aborted:
            raise RunAborted

    def _collect(self) -> None:
        stats = self.stats
        stats.safepoints += 1
        stats.peak_mutator_threads = max(
            stats.peak_mutator_threads,
            sum(1 for m in self.mutators if m.thread is not None and m.thread.is_alive()),
        )
        # OS threads of the whole process, as the kernel counts them: the
        # proof that mutators are real threads, not coroutines.
        stats.peak_os_threads = max(stats.peak_os_threads, self._process.num_threads())
        logger.debug("pause {}: world stopped by {}", stats.safepoints, threading.current_thread().name)
        for mutator in self.mutators:
            mutator.allocator.give_up_labs()
        full = self.full_collector
        try:
            # The scavenger may record OLD_TO_NEW slots only because the
            # sweeper is stopped meanwhile (V8's Sweeper::PauseScope).
            if full is not None and not self._sweep_through_scavenge:
                full.pause_sweeping(self)
            self._scavenge(stats)
        finally:
            if full is not None:
                full.resume_sweeping()
        every = self.config.mark_compact_every
        if full is not None and every and stats.scavenges % every == 0 and not self._aborted:
            full.ensure_sweeping_completed(self)
            full.collect(self)
            stats.mark_compacts += 1
            self.observer.on_mark_compact_end(self)
            self.full_collector.start_sweeping()
        logger.debug("scavenge {} done: {} copied, {} promoted so far", stats.scavenges, stats.copied, stats.promoted)

    def _scavenge(self, stats: RunStats) -> None:
        """The pause's scavenge, with the verifier's look before and after."""
        self.events.record("pause-start", f"pause {stats.safepoints}: every mutator stopped, buffers flushed")
        self.observer.on_pause_start(self)
        if self._aborted:
            return
        started = time.perf_counter()
        self.collector.scavenge(self)
        stats.scavenges += 1
        stats.pause_s += time.perf_counter() - started
        self.events.record(
            "scavenge-end", f"scavenge {stats.scavenges}: {stats.copied} copied, {stats.promoted} promoted so far"
        )
        self.observer.on_scavenge_end(self)

    def root_areas(self) -> list[list[Tagged]]:
        """Every root slot list: global handles, then each mutator's scopes and frames."""
        return [slots for _, slots in self.named_root_areas()]

    def named_root_areas(self) -> list[tuple[str, list[Tagged]]]:
        """``root_areas`` with a name for each, for reports."""
        areas = [("globals", self.globals)]
        for mutator in self.mutators:
            areas.extend((f"{mutator.name} scope {s.depth}", s.slots) for s in mutator.scopes)
            areas.extend((f"{mutator.name} frame {f.depth}", f.slots) for f in mutator.frames)
        return areas

    # -- running ---------------------------------------------------------------

    def run(self) -> None:
        """Run every mutator's program on its own thread; return when all ended."""
        program = self.config.program_function() or standard_program
        scheduler = active_scheduler()
        self.collector.start(self)
        if self.full_collector is not None:
            self.full_collector.start(self)
        for mutator in self.mutators:
            mutator.thread = scheduler.spawn(mutator.name, self._thread_main, mutator, program)
        scheduler.launch()
        self.stats.peak_mutator_threads = sum(1 for m in self.mutators if m.thread is not None and m.thread.is_alive())
        self.stats.peak_os_threads = self._process.num_threads()
        # Every model thread, collector threads included: the run ends when
        # the last mutator has shut the worker pool and the sweeper down and
        # they have finished what they were doing.
        threads = list(scheduler.threads)
        overdue = self._join(threads, scheduler)
        if overdue is not None:
            stuck = [t.name for t in threads if t.is_alive()]
            self.report(
                [
                    self.violation(
                        "safepoint-liveness",
                        f"run did not finish within {self.config.run_timeout:g}s: {', '.join(stuck)} still running "
                        f"({overdue})",
                        thread_stacks(),
                    )
                ]
            )
            scheduler.abandon()
            for thread in threads:
                thread.join(1.0)
        if not self._aborted:
            self.observer.on_run_end(self)

    def _join(self, threads: list[threading.Thread], scheduler: Scheduler) -> str | None:
        """Wait for ``threads``; None when they all ended, else why the run is overdue.

        ``run_timeout`` is progress-aware like every free-mode wait: past it,
        the run goes on while threads still pass scheduling points (an
        overloaded machine is slow, not stuck) and is overdue once no point
        was passed for ``min(wait_timeout, run_timeout)`` seconds, or at the
        hard cap of ``timeout_cap * run_timeout``.  A pure-Python loop that
        never reaches a point is caught this way in both modes.
        """
        config = self.config
        patience = Patience(
            config.run_timeout,
            quiet=min(config.wait_timeout, config.run_timeout),
            cap=config.run_timeout * config.timeout_cap,
        )
        patience.expired(scheduler)  # starts the clock
        for thread in threads:
            while thread.is_alive():
                thread.join(_JOIN_SLICE)
                if thread.is_alive() and (overdue := patience.expired(scheduler)) is not None:
                    return overdue
        return None

    def _thread_main(self, mutator: Mutator, program: Callable[[Mutator], None]) -> None:
        try:
            if self.locker is not None:
                self.locker.enter(mutator)
            mutator.open_scope()
            program(mutator)
            while mutator.frames:
                mutator.leave_frame()
        except RunAborted:
            pass
        except BaseException as error:  # a crash of the model or of a custom workload, a halt,
            # or a workload's own SystemExit / KeyboardInterrupt: none may end the thread unreported
            self.report_thread_failure(mutator.name, error)
        finally:
            self._finish(mutator)

    def _finish(self, mutator: Mutator) -> None:
        """Park for good, so no GC waits for a thread that has ended."""
        try:
            if mutator.state is not ThreadState.PARKED:
                self.safepoint.park(mutator)
        except RunAborted:
            pass
        except (Exception, Halt) as error:
            self.report_thread_failure(mutator.name, error)
        mutator.state = ThreadState.PARKED
        if self.locker is not None:
            self.locker.release(mutator)
        last = self._finished.fetch_add() == len(self.mutators)
        if last:
            self.collector.shutdown()
            if self.full_collector is not None:
                self.full_collector.shutdown()


#: this package's directory: frames outside it are the user's (a custom workload)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _described(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _raised_at(error: BaseException) -> str:
    """``at FILE:LINE in FUNCTION`` of the innermost frame of a custom workload's code, else of the model's.

    A user reading "raised IndexError" wants the line of their own program
    first; the whole traceback stays in the violation's stacks.
    """
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "no traceback"
    user = [f for f in frames if not f.filename.startswith(_PACKAGE)]
    frame = (user or frames)[-1]
    return f"at {frame.filename}:{frame.lineno} in {frame.name}"
