"""POS: partial-order aware sampling of schedules.

After Xinhao Yuan, Junfeng Yang, Ronghui Gu, "Partial Order Aware
Concurrency Sampling", CAV 2018.  Every *pending operation* (the point a
thread is parked at, or the point the running thread has just reached)
carries a random priority; the runnable thread whose pending operation has
the highest priority runs next.  When an operation executes (its thread
goes on to its next point), every other pending operation that *races* with
it gets a fresh random priority, and so does the executing thread's next
operation.  Operations that do not race keep their priorities, so
reorderings that cannot change the outcome are not re-sampled: schedules
are drawn close to uniformly over partial orders rather than interleavings.

The race relation comes from the points' ``kind`` and ``detail``
(:data:`CONFLICTS`): a kind names a *resource family* (a slot-set cell, an
object's forwarding word, the scavenge worklist, the weak code list's head,
a lock) and whether the operation writes it; the detail names the object
within the family when the family has more than one.  Two pending
operations race when they touch the same resource and at least one writes.
A kind the table does not know races with the same kind and detail
(conservative: assumed to write).  User code run by ``explore`` names
the object itself (``point(kind, obj=..., write=...)``): such a point
touches that object whatever its kind.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from testbed.sched._access import Access
from testbed.sched._strategies import Strategy

__all__ = ["CONFLICTS", "SYNC_FAMILIES", "USER_FAMILY", "POSStrategy", "Resource", "races", "resource"]

#: (family, keyed by detail?, writes?) of an operation
Resource = tuple[str, object, bool]

#: kind -> (resource family, whether ``detail`` names the object, writes).
#: ``keyed=False``: the family is one object per run (the detail, if any, is
#: not the object touched: a list node, a segment size), so every operation
#: of the family touches the same resource.  Families of synchronization
#: primitives are keyed by the primitive's name (a Condition carries its
#: lock's name, so waits and notifies race with the lock's acquires).
CONFLICTS: dict[str, tuple[str, bool, bool]] = {
    # remembered set: slot-set buckets and cells, by index and address
    "slot-set-read-bucket": ("slot-bucket", True, False),
    "slot-set-publish-bucket": ("slot-bucket", True, True),
    "slot-set-read-cell": ("slot-cell", True, False),
    "slot-set-write-cell": ("slot-cell", True, True),
    "remset-record": ("remset", True, True),
    "remset-scan": ("remset", True, False),
    # scavenger: an object's forwarding word, by the object's lid
    "forwarding-cas": ("forwarding", True, True),
    "forwarding-store": ("forwarding", True, True),
    # the scavenge's item counter (one fetch-and-add per scavenge)
    "scavenge-item-claim": ("scavenge-items", False, True),
    # the scavenge worklist (one per scavenge; points carry no detail)
    "worklist-publish-read": ("worklist", False, False),
    "worklist-publish-write": ("worklist", False, True),
    "worklist-steal-read": ("worklist", False, False),
    "worklist-steal-write": ("worklist", False, True),
    # the weak code list: its head (the detail is the code linked, or the
    # node unlinked, not the word written; an unlink writes the head or a
    # predecessor's link, both reachable from the head)
    "weak-list-read-head": ("weak-list", False, False),
    "weak-list-write-head": ("weak-list", False, True),
    "weak-list-unlink": ("weak-list", False, True),
    # deoptimizer: code marks and function code slots
    "deopt-check-mark": ("code-mark", True, False),
    "deopt-mark-code": ("code-mark", True, True),
    "function-code-read": ("function-code", True, False),
    "function-code-write": ("function-code", True, True),
    "code-release": ("code-mark", True, True),
    # Locker mode (testbed.runtime.locker, testbed.deopt): the archive of
    # threads that left the isolate (one list), a frame's return slot (by
    # "mutator-N frame D"), a code object's embedded objects (by its lid)
    "thread-archive": ("thread-manager", False, True),
    "thread-restore": ("thread-manager", False, True),
    "thread-manager-iterate": ("thread-manager", False, False),
    "frame-return-read": ("frame-return", True, False),
    "frame-patch-return": ("frame-return", True, True),
    "code-embedded-write": ("code-embedded", True, True),
    # A mutator's safepoint state, by its name: the interrupt flag the
    # initiator sets and the thread tests, and leaving a parked runtime call
    # (the deopt entry), which must see a requested GC.  V8 keeps both in one
    # word, LocalHeap::state_ (src/heap/local-heap.h: the parked and
    # safepoint-requested bits, changed by CAS in Park/Unpark).
    "interrupt-test": ("thread-state", True, False),
    "interrupt-set": ("thread-state", True, True),
    "deopt-runtime-call": ("thread-state", True, True),
    # heap objects and allocation (the detail of a LAB or store-buffer
    # point is a size or the host, not the buffer: one resource each)
    "field-store": ("object", True, True),
    "mark-object": ("mark", True, True),
    "sweep-free": ("object", True, True),
    # the sweeper reads a live object's header for its size; the deoptimizer
    # publishes the map of storage it rewrote in place (by the object's lid)
    "sweep-read-size": ("object", True, False),
    "object-set-map": ("object", True, True),
    "store-buffer-append": ("store-buffer", False, True),
    "store-buffer-flush": ("store-buffer", False, True),
    # layout change (fast -> slow): the host's map word, by its lid, and the
    # clears of its recorded slots (the thread's own buffer; the remembered
    # set's cells, like a record of the same host)
    "layout-change": ("object", True, True),
    "store-buffer-clear": ("store-buffer", False, True),
    "remset-clear": ("remset", True, True),
    "new-space-lab": ("new-space", False, True),
    "old-space-lab": ("old-space", False, True),
    # synchronization primitives, by name
    "lock-acquire": ("lock", True, True),
    "condition-wait": ("lock", True, True),
    "condition-notify": ("lock", True, True),
    "event-set": ("event", True, True),
    "event-clear": ("event", True, True),
    "event-wait": ("event", True, False),
    "semaphore-acquire": ("semaphore", True, True),
    "semaphore-release": ("semaphore", True, True),
    "barrier-wait": ("barrier", True, True),
    "barrier-abort": ("barrier", True, True),
    "barrier-reset": ("barrier", True, True),
    # a timer's join: whether its thread finished is no point of its own, so
    # joins are taken as writes of the timer (racing with each other)
    "timer-join": ("timer", True, True),
    # a steered Thread (testbed.sched.Thread): its start and join, by its name
    "thread-start": ("thread", True, True),
    "thread-join": ("thread", True, True),
}

#: families of synchronization primitives (not data of the model)
SYNC_FAMILIES = frozenset({"lock", "event", "semaphore", "barrier", "timer", "thread"})

#: the family of the objects user code names (``point(kind, obj=..., write=...)``)
USER_FAMILY = "user-object"


def resource(kind: str, detail: object) -> Resource:
    """``(family, object, writes)`` of an operation; an unknown kind is its own family, written.

    A point that names its object (an :class:`~testbed.sched._access.Access`
    detail) touches that object, read or written as it says, whatever its kind.
    """
    if type(detail) is Access:
        return (USER_FAMILY, detail.obj, detail.write)
    entry = CONFLICTS.get(kind)
    if entry is None:
        return (kind, detail, True)
    family, keyed, writes = entry
    return (family, detail if keyed else None, writes)


def races(a: Resource, b: Resource) -> bool:
    """Whether two operations touch the same resource and at least one writes it."""
    return (a[2] or b[2]) and a[0] == b[0] and a[1] == b[1]


class POSStrategy(Strategy):
    """Partial-order sampling: the runnable thread whose pending operation has the highest priority runs."""

    name = "pos"
    #: the scheduler reports every point (:meth:`at_point`), not only decisions
    wants_ops = True

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        #: thread -> its pending operation's resource (None: not at a point yet)
        self._pending: dict[int, Resource | None] = {}
        #: thread -> its pending operation's priority
        self._priority: dict[int, float] = {}

    def register(self, index: int) -> None:
        self._pending[index] = None
        self._priority[index] = self._rng.random()

    def at_point(self, index: int, kind: str, detail: object) -> None:
        """Thread ``index`` reached a point: its previous pending operation executed."""
        pending = self._pending
        executed = pending.get(index)
        rng = self._rng
        if executed is not None:
            priority = self._priority
            for other, op in pending.items():
                if other != index and op is not None and races(executed, op):
                    priority[other] = rng.random()
        pending[index] = resource(kind, detail)
        self._priority[index] = rng.random()

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        priority = self._priority
        position = max(range(len(runnable)), key=lambda i: priority.get(runnable[i], 0.0))
        if not current_runnable:
            return position
        # Relative to the current thread (0 = keep running).
        return (position - runnable.index(current)) % len(runnable)
