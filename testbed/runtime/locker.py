"""The isolate's Locker: JS threads take turns in one isolate; leavers are archived.

Models ``v8::Locker``/``v8::Unlocker`` (include/v8-locker.h) with the
``ThreadManager`` behind them (src/execution/v8threads.{h,cc}): an embedder
thread must hold the isolate's Locker to run JavaScript; an ``Unlocker``
(or the end of the Locker's scope) hands the isolate to the next thread,
and V8 archives the leaving thread's per-thread state (``ArchiveThread``,
its ``ThreadLocalTop``) while its stack still holds JavaScript frames.
``ThreadManager::IterateArchivedThreads`` lets a visitor walk those
archived stacks: the GC visits them as roots, and since V8 commit 596d55a
(v8:6563) the deoptimizer patches the activations of marked code in them
too.  Node's ``fibers`` package runs several such threads through one
isolate.

In the model a mutator enters by taking the Locker and leaves in its
blocking regions (``Mutator.parked``).  While it waits for the Locker it
is parked, so a GC started by the holder never waits for it; its frames
stay where they are (they are already on its own stack), and the archive
is the ordered list of mutators that left, which the deoptimizer visits.
What it simplifies: no per-thread state is copied in and out (V8 copies
``ThreadLocalTop`` into an archive buffer), there are no nested Lockers
and only mutators take the Locker (V8's embedder decides who does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from testbed.runtime.events import EventLog
from testbed.runtime.safepoint import RunAborted, Safepoint
from testbed.sched import Condition, Lock, point

if TYPE_CHECKING:
    from testbed.runtime.mutator import Mutator

__all__ = ["IsolateLocker"]


class IsolateLocker:
    """One holder at a time; the threads that left are archived in index order."""

    def __init__(self, safepoint: Safepoint, aborted: Callable[[], bool], events: EventLog) -> None:
        self.mutex = Lock("isolate-locker")
        self.changed = Condition(self.mutex, "isolate-locker")
        self.holder: Mutator | None = None
        #: ThreadManager's archived threads (sorted by mutator index: deterministic)
        self.archived: list[Mutator] = []
        self.entries = 0
        self._safepoint = safepoint
        self._aborted = aborted
        self._events = events

    def enter(self, mutator: Mutator) -> None:
        """``v8::Locker``: wait (parked) for the isolate, restore this thread, run."""
        # Parked while waiting: the holder may stop the world meanwhile, and a
        # thread blocked on the Locker cannot answer a safepoint request.
        self._safepoint.park(mutator)
        with self.mutex:
            if not self.changed.wait_for(lambda: self.holder is None, abandon=self._aborted):
                raise RunAborted
            point("thread-restore", mutator.name)
            restored = mutator in self.archived
            if restored:
                self.archived.remove(mutator)
            self.holder = mutator
            self.entries += 1
        detail = f"restored with {len(mutator.frames)} frame(s)" if restored else "first entry"
        self._events.record("locker-enter", detail)
        self._safepoint.unpark(mutator)

    def leave(self, mutator: Mutator) -> None:
        """``v8::Unlocker``: park, archive this thread (frames and all), hand the isolate on."""
        self._safepoint.park(mutator)
        self.release(mutator, archive=True)

    def release(self, mutator: Mutator, archive: bool = False) -> None:
        """Give the Locker up if ``mutator`` holds it (at the thread's end: without archiving)."""
        with self.mutex:
            if self.holder is not mutator:
                return
            if archive:
                point("thread-archive", mutator.name)
                self.archived.append(mutator)
                self.archived.sort(key=lambda m: m.index)
            self.holder = None
            self.changed.notify_all()
        self._events.record(
            "locker-leave", f"archived with {len(mutator.frames)} frame(s)" if archive else "thread ends"
        )

    def archived_threads(self) -> Sequence[Mutator]:
        """A snapshot of the archived threads (``ThreadManager::IterateArchivedThreads``)."""
        with self.mutex:
            point("thread-manager-iterate", None)
            return tuple(self.archived)
