"""The safepoint protocol: how a GC stops every mutator and lets them go.

Mirrors V8's ``IsolateSafepoint`` (src/heap/safepoint.cc) together with the
``StackGuard`` GC interrupt (src/execution/stack-guard.cc) and the
``LocalHeap`` thread states (src/heap/local-heap.h):

* each mutator is RUNNING, PARKED (in a blocking region, promises not to
  touch the heap) or IN_SAFEPOINT, and has an interrupt flag;
* the initiator sets every other mutator's flag, then waits until each one
  is in the safepoint or parked (``WaitUntilRunningThreadsInSafepoint``);
* a mutator polls its flag at loop back-edges, allocation slow paths and
  the deopt entry; on arrival it first moves its store buffer into the
  remembered set, then blocks until the GC is over (``WaitInSafepoint``);
* a parked mutator that wants to unpark while a GC is requested waits too
  (``WaitInUnpark``);
* after the collection the initiator clears the flags, marks every stopped
  thread running and wakes everyone (a thread must not mark itself running
  on wake-up: see ``stop_the_world``).

Every wait is bounded.  In free mode a wait fails only when no thread made
progress for a whole ``wait_timeout`` (or at the hard cap, ``timeout_cap``
timeouts), in controlled mode when no thread can run at all; either way
the run reports ``safepoint-liveness`` with every thread's stack.

The epoch is the safepoint barrier: a stopped thread waits for it to move
on, which is what V8's ``Barrier::Disarm`` does for ``WaitInSafepoint``.

Simplified: one mutex and condition variable hold every thread's state, the
initiator is always a mutator, and parking also flushes the thread's store
buffer. The waltz's V8 ran one JavaScript thread per isolate; this protocol
follows the ``LocalHeap`` safepoints V8 has had since 2020.

Faults: ``skip-flush`` arrives without flushing; ``early-scavenge`` starts
the collection when all but one running mutator have arrived;
``resume-without-disarm`` clears the request after the collection but
never moves the epoch on, so every thread stopped in the safepoint waits
for a resume that never comes (nothing notices but the liveness check).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from testbed.sched import Condition, Lock, point

if TYPE_CHECKING:
    from testbed.runtime.mutator import Mutator

__all__ = ["RunAborted", "Safepoint", "ThreadState"]


class ThreadState(enum.Enum):
    RUNNING = "running"
    PARKED = "parked"
    IN_SAFEPOINT = "in-safepoint"


class RunAborted(Exception):
    """The run is being torn down (a violation was found); unwind quietly."""


class Safepoint:
    """Stop-the-world coordination for a fixed set of mutators."""

    def __init__(
        self,
        mutators: Sequence[Mutator],
        aborted: Callable[[], bool],
        faults: frozenset[str] = frozenset(),
    ) -> None:
        self.mutators = mutators
        self.mutex = Lock("safepoint")
        self.changed = Condition(self.mutex, "safepoint-state")
        #: a GC has been requested and not yet finished
        self.requested = False
        #: completed stop-the-world pauses
        self.epoch = 0
        #: the mutator running the current collection (None between GCs)
        self.initiator: Mutator | None = None
        self._aborted = aborted
        self._skip_flush = "skip-flush" in faults
        self._early = "early-scavenge" in faults
        self._keep_armed = "resume-without-disarm" in faults

    # -- mutator side -------------------------------------------------------

    def poll(self, mutator: Mutator) -> None:
        """The stack check: join a requested GC if our interrupt flag is set."""
        point("interrupt-test", mutator.name)
        if self._aborted():
            raise RunAborted
        if mutator.interrupt:
            self.wait_in_safepoint(mutator)

    def wait_in_safepoint(self, mutator: Mutator) -> None:
        if not self._skip_flush:
            entries = len(mutator.store_buffer)
            mutator.store_buffer.flush()
            mutator.isolate.events.record("safepoint-arrive", f"flushed {entries} store-buffer entries")
        with self.mutex:
            if not self.requested:
                mutator.interrupt = False
                return
            epoch = self.epoch
            mutator.state = ThreadState.IN_SAFEPOINT
            self.changed.notify_all()
            resumed = self.changed.wait_for(lambda: self.epoch != epoch, abandon=self._aborted)
            if not resumed:
                mutator.state = ThreadState.RUNNING
        if not resumed:
            raise RunAborted

    def park(self, mutator: Mutator) -> None:
        """Enter a blocking region; a parked thread never holds up a GC."""
        mutator.store_buffer.flush()
        with self.mutex:
            mutator.state = ThreadState.PARKED
            self.changed.notify_all()

    def unpark(self, mutator: Mutator) -> None:
        """Leave a blocking region; waits out a requested or running GC."""
        with self.mutex:
            ok = self.changed.wait_for(lambda: not self.requested, abandon=self._aborted)
            mutator.state = ThreadState.RUNNING
        if not ok:
            raise RunAborted

    # -- initiator side -----------------------------------------------------

    def stop_the_world(self, initiator: Mutator, collect: Callable[[], None]) -> None:
        """Run ``collect`` with every other mutator stopped, then resume them.

        If another thread already requested a GC we simply join it: the
        allocation that failed is retried after the world resumes.
        """
        with self.mutex:
            if self.requested:
                joined = True
            else:
                joined = False
                self.requested = True
                for other in self.mutators:
                    if other is not initiator:
                        point("interrupt-set", other.name)
                        other.interrupt = True
        if joined:
            self.wait_in_safepoint(initiator)
            return
        try:
            initiator.store_buffer.flush()
            with self.mutex:
                others = [m for m in self.mutators if m is not initiator]
                if not self.changed.wait_for(lambda: self._all_stopped(others), abandon=self._aborted):
                    raise RunAborted
            self.initiator = initiator
            try:
                collect()
            finally:
                self.initiator = None
                # The initiator says it is done before anyone resumes (the
                # start of the collection it reports at its pause start).
                initiator.isolate.observer.on_pause_end(initiator.isolate)
        finally:
            with self.mutex:
                self.requested = False
                for other in self.mutators:
                    other.interrupt = False
                    # The initiator, not the woken thread, makes stopped
                    # threads RUNNING again.  Otherwise a thread that has not
                    # been scheduled since the wake-up still looks stopped,
                    # and a GC requested right now would start without it
                    # (found by world-stopped on the correct model).
                    if other.state is ThreadState.IN_SAFEPOINT:
                        other.state = ThreadState.RUNNING
                if not self._keep_armed:
                    self.epoch += 1  # disarm: the stopped threads may go
                self.changed.notify_all()

    def _all_stopped(self, others: list[Mutator]) -> bool:
        stopped = sum(1 for m in others if m.state is not ThreadState.RUNNING)
        if self._early:
            # The off-by-one: counts as if the initiator's own arrival were
            # one of the others', so the last running mutator is not waited for.
            return stopped + 1 >= len(others)
        return stopped == len(others)
