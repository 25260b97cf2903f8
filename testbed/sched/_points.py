"""Scheduling points and the scheduler that decides what happens at them.

``point(kind, detail)`` is called by the model before every operation on
shared state: a store-buffer append, a remembered-set read or write, a test
of an interrupt flag, a forwarding install.  In V8 these are the places where
another thread's memory operation can be ordered before ours; here they are
the only places where a scheduler may let another thread run first.

Free mode (:class:`FreeScheduler`) lets the OS and the GIL interleave the
threads and perturbs them with seeded tiny yields and a short
``sys.setswitchinterval`` (as jcstress perturbs a JVM).  Controlled mode
(:mod:`testbed.sched._controlled`) installs a different :class:`Scheduler`
with the same interface, so the model code never changes between modes.

Every scheduler also implements the parking interface the blocking
primitives are built on (``park``/``unpark``, :mod:`testbed.sched._parking`):
here, real sleeping with a progress-aware timeout; under a controlled
scheduler, blocking through it.  The scheduling points passed so far
(``steps``) are the progress measure a free-mode wait consults before it
reports a timeout.
"""

from __future__ import annotations

import array
import contextlib
import os
import random
import sys
import threading
import time
from _thread import get_ident
from collections.abc import Callable, Iterator

from testbed.sched._access import access
from testbed.sched._atomic import AtomicCounter
from testbed.sched._halts import Halt
from testbed.sched._parking import ParkingLot, Patience, What, park_free
from testbed.sched._seeds import derive_seed

__all__ = ["FreeScheduler", "HaltSwitch", "RunActive", "Scheduler", "active_scheduler", "point", "running"]

#: False on a free-threaded build running without the GIL (PEP 703)
_GIL_ENABLED: bool = getattr(sys, "_is_gil_enabled", lambda: True)()


class Scheduler:
    """The default scheduler: counts points and never interferes.

    Used whenever no run is active (unit tests of single modules, the REPL).
    """

    #: seconds a free-mode wait may last with no thread making progress before it is reported
    wait_timeout: float = 10.0
    #: hard cap of a free-mode wait whose awaited threads keep progressing, in ``wait_timeout``s
    timeout_cap: float = 6.0
    #: True for a scheduler that serializes threads (blocking goes through it)
    controlled: bool = False
    #: times a blocked lock acquire looks again, yielding the core in between,
    #: before it sleeps (0: it sleeps at once; see :class:`FreeScheduler`)
    spins: int = 0
    #: why the run was given up while still active (:meth:`orphan`); None while it is wanted
    orphaned: str | None = None
    #: told ``(error, thread name)`` when a :class:`~testbed.sched.Thread` the code
    #: under test started raises (an explored schedule's failure); None: ``threading.excepthook``
    on_thread_error: Callable[[BaseException, str], None] | None = None
    # Read by point()'s inline fast path: a point whose next step is below
    # the horizon only counts it.  0 here: every point calls the method.
    _step: int = 0
    _horizon: int = 0

    def __init__(self) -> None:
        # Each thread counts its own points in its own cell and ``steps`` sums
        # the cells (V8's per-thread local tracers, merged when read): a
        # shared counter would lose increments on a free-threaded build and
        # make every point of every core write the same memory.
        self._local = threading.local()
        self._cells: list[_ThreadCell] = []
        self._cells_guard = threading.Lock()
        # The start line: spawned threads wait here until launch(), so they
        # all begin together instead of in creation order.
        self._start_line = threading.Event()
        #: every thread spawned in this run, in creation order
        self.threads: list[threading.Thread] = []

    def spawn(self, name: str, target: Callable[..., None], *args: object) -> threading.Thread:
        """Start a model thread (a mutator, later a GC worker) that waits for ``launch``.

        Every thread of the model is created here, so a controlled scheduler
        can register it before it runs a single point.
        """
        thread = threading.Thread(target=self._thread_body, args=(target, args), name=name, daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def launch(self) -> None:
        """Let every spawned thread go."""
        self._start_line.set()

    def _thread_body(self, target: Callable[..., None], args: tuple[object, ...]) -> None:
        self._start_line.wait(self.wait_timeout)
        target(*args)

    def _cell(self) -> _ThreadCell:
        """The calling thread's cell (made on its first point)."""
        cell: _ThreadCell | None = getattr(self._local, "cell", None)
        if cell is None:
            cell = self._local.cell = _ThreadCell(self._thread_seed())
            with self._cells_guard:
                self._cells.append(cell)
        return cell

    def _thread_seed(self) -> int:
        return 0

    def point(self, kind: str, detail: object = None) -> None:
        self._cell().steps += 1

    @property
    def steps(self) -> int:
        """Scheduling points passed so far (by every thread; exact once they stop)."""
        with self._cells_guard:
            cells = list(self._cells)
        return sum(cell.steps for cell in cells)

    def start(self) -> None:
        """Called when the scheduler becomes active."""

    def interrupt_waits(self) -> None:
        """Make every waiting thread re-check its condition soon (the run is aborting).

        Free-mode waits re-check their abandon predicate every slice (50 ms) anyway.
        """

    def abandon(self) -> None:
        """Stop steering threads (the run timed out); free mode never steers."""

    def halt_at_next_point(self, message: str, *, every_thread: bool = False) -> HaltSwitch:
        """End the run from inside its threads: the next scheduling point raises a :class:`Halt`.

        Once (the first thread to reach a point; later points pass, so every
        thread can unwind through its ``finally`` blocks and the run's top
        levels end it as the step limit does), or once in each thread this
        scheduler spawned (``every_thread``: an orphaned run, none of whose
        threads may go on).  A controlled scheduler stops steering first, so
        every point reaches the switch.
        """
        threads = frozenset(self.threads)
        switch = HaltSwitch(self.point, message, threads if every_thread else None)
        self.abandon()
        self.point = switch  # type: ignore[method-assign]
        return switch

    def orphan(self, why: str) -> None:
        """Give this run up while it is still active (stuck past a campaign's deadline).

        Python cannot stop a thread, so the run stays active until its
        threads end; each is halted at its next scheduling point and every
        wait re-checks at once.  Meanwhile :func:`running` waits up to
        ``wait_timeout`` for it before refusing a new run with ``why``.
        """
        self.orphaned = why
        self.halt_at_next_point(f"the run was given up: {why}", every_thread=True)
        self.interrupt_waits()

    def current_task(self) -> object | None:
        """The steered thread calling this, if any (only controlled schedulers steer)."""
        return None

    def wake(self, on: object) -> None:
        """Threads blocked on ``on`` may run again (only controlled schedulers block them)."""

    # -- parking (the primitives' one way to wait; see _parking) -------------------

    def park(
        self,
        lot: ParkingLot,
        ready: Callable[[], bool],
        what: What,
        patience: Patience,
        abandon: Callable[[], bool] | None = None,
    ) -> bool:
        """Wait until ``ready()`` (True) or ``abandon()`` (False); free mode sleeps.

        ``ready`` runs with ``lot.guard`` held and may claim what it found.
        Raises :class:`WaitTimeout` when ``patience`` runs out.
        """
        return park_free(self, lot, ready, what, patience, abandon)

    def unpark(self, lot: ParkingLot, count: int | None = None) -> None:
        """``lot.guard`` held, its state just changed: wake ``count`` sleepers (None: all)."""
        if lot.sleeping:
            if count is None:
                lot.sleepers.notify_all()
            else:
                lot.sleepers.notify(count)

    def stop(self) -> None:
        """Called when the run ends; undo anything ``start`` changed."""


class FreeScheduler(Scheduler):
    """Real threads running freely, with seeded perturbation.

    At each point, with probability ``yield_probability``, the thread gives up
    the GIL (``time.sleep(0)``), which is what makes a two-instruction window
    such as an unlocked read-modify-write of a remembered-set cell observable.
    While active, ``sys.setswitchinterval`` is lowered so the interpreter
    also preempts threads between points; the old value is restored on stop.

    On a free-threaded build a lock acquire that finds the lock held looks
    again ``spins`` times before it sleeps, as V8's ``base::SpinningMutex``
    spins ``kSpinCount`` (64) times before its futex wait
    (src/base/platform/mutex.h) and CPython's own ``PyMutex`` spins before
    parking: the holder runs on another core and usually lets go within
    microseconds, while a sleeper woken by a holder that goes on running
    waits for the kernel to find it a core (on the 2-core VM this project
    is built on, 1 to 12 ms: two scavenger workers woken together met at
    the pool's lock, and one of them often started that much later).  Under
    the GIL the holder cannot run while the waiter spins, so it sleeps at
    once there.

    Waits sleep (``Scheduler.park``): one that passes ``wait_timeout`` goes
    on while any thread still passes points, and fails (``WaitTimeout``, a
    ``safepoint-liveness`` report) after ``wait_timeout`` seconds without a
    single point anywhere, or at ``timeout_cap * wait_timeout`` in any case.

    With ``record`` (the default) the run keeps the order in which spawned
    threads passed their points, and each point's kind: one 4-byte entry
    per point, appended under the GIL (``array.append`` is atomic, so the
    order is the order the interpreter ran them in; on a free-threaded
    build a list, whose append is atomic there), read back run-length
    encoded by :meth:`recorded_order`.  A
    thread's index is its spawn order, which is the spawning code's own
    order (the isolate spawns from one thread); a trace names threads by
    name, so a controlled run maps them by name, never by this number.
    Points of threads not spawned here (the main thread) are not recorded.
    """

    # os.sched_yield is POSIX-only; without it a waiter sleeps at once.
    spins = 0 if _GIL_ENABLED or not hasattr(os, "sched_yield") else 64

    def __init__(
        self,
        seed: int,
        yield_probability: float = 0.05,
        switch_interval: float | None = 5e-5,
        wait_timeout: float = 10.0,
        timeout_cap: float = 6.0,
        record: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 <= yield_probability <= 1.0:
            raise ValueError(f"yield_probability must be in [0, 1], got {yield_probability}")
        if timeout_cap < 1.0:
            raise ValueError(f"timeout_cap must be at least 1, got {timeout_cap}")
        self.wait_timeout = wait_timeout
        self.timeout_cap = timeout_cap
        self._seed = seed
        self._yield_probability = yield_probability
        self._switch_interval = switch_interval
        self._saved_interval: float | None = None
        # Spawned threads by their OS ident (set by each thread as it
        # starts), point kinds by number, and the points passed: one
        # ``kind << 16 | thread`` each, 4 bytes (a tuple per point would
        # cost 64), appended atomically (array.append holds the GIL).
        self._indices: dict[int, int] = {}
        self._kind_codes: dict[str, int] = {}
        self._new_kind = threading.Lock()
        # On a free-threaded build (3.13t) ``array.append`` is not safe from
        # several threads at once (made so only in 3.14, gh-128942), while a
        # list's is (built-in containers lock themselves, per the
        # free-threading HOWTO): a list there, 4-byte entries under the GIL.
        self._order: array.array[int] | list[int] = array.array("I") if _GIL_ENABLED else []
        if not record:
            self.point = self._point_unrecorded  # type: ignore[method-assign]

    def _thread_body(self, target: Callable[..., None], args: tuple[object, ...]) -> None:
        # The index is the thread's place in ``threads`` (spawn order); the
        # ident is looked up at every point, so it is set before the first.
        self._indices[get_ident()] = next(i for i, t in enumerate(self.threads) if t is threading.current_thread())
        super()._thread_body(target, args)

    def _thread_seed(self) -> int:
        # One random stream per thread, derived from the run seed and the
        # thread's name (deterministic names: mutator-0, scavenger-1, ...):
        # a shared random.Random is one more object every core writes at
        # every point, and on a free-threaded build a lock around it.
        name = threading.current_thread().name
        return derive_seed(self._seed, *name.encode())

    def point(self, kind: str, detail: object = None) -> None:
        cell = self._cell()
        cell.steps += 1
        index = self._indices.get(get_ident())
        if index is not None:
            code = self._kind_codes.get(kind)
            if code is None:
                code = self._kind_code(kind)
            self._order.append(code << 16 | index)
        # At probability 0 (benchmarks) a point draws nothing at all.
        if self._yield_probability and cell.random() < self._yield_probability:
            time.sleep(0)

    def _kind_code(self, kind: str) -> int:
        """The number of a kind first seen now (two threads may meet a new kind at once: one lock)."""
        with self._new_kind:
            return self._kind_codes.setdefault(kind, len(self._kind_codes))

    def _point_unrecorded(self, kind: str, detail: object = None) -> None:
        """:meth:`point` without the recording (``record=False``: what the recording costs is measured against it)."""
        cell = self._cell()
        cell.steps += 1
        if self._yield_probability and cell.random() < self._yield_probability:
            time.sleep(0)

    def thread_names(self) -> list[str]:
        """The spawned threads' names by index (their identity in :meth:`recorded_order`)."""
        return [t.name for t in self.threads]

    def recorded_order(self) -> tuple[list[str], list[list[int]]]:
        """The points passed, as point kinds and runs ``[thread, kind, repeat]``.

        ``repeat`` consecutive points of thread ``thread`` (spawn index)
        whose kind was ``kinds[kind]``; empty when the run was not recorded.
        """
        runs: list[list[int]] = []
        last = -1
        for entry in self._order:
            if entry == last:
                runs[-1][2] += 1
            else:
                runs.append([entry & 0xFFFF, entry >> 16, 1])
                last = entry
        # Kinds in the order they were numbered (the dict keeps insertion order).
        return list(self._kind_codes), runs

    def start(self) -> None:
        if self._switch_interval is not None:
            self._saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(self._switch_interval)

    def stop(self) -> None:
        if self._saved_interval is not None:
            sys.setswitchinterval(self._saved_interval)
            self._saved_interval = None


class _ThreadCell:
    """One thread's share of a scheduler's state: its points passed, its random stream."""

    __slots__ = ("random", "steps")

    def __init__(self, seed: int) -> None:
        self.steps = 0
        self.random = random.Random(seed).random


class HaltSwitch:
    """A scheduler's ``point`` that raises one :class:`Halt`, then passes.

    One in all (``threads`` None: whichever thread comes first), or one in
    each of ``threads`` (an orphaned run's own threads, by identity: an
    ident is reused once its thread ends), in
    which case any other thread's point does nothing at all: it belongs to
    a run being set up while the orphan still holds the slot.
    """

    def __init__(
        self, passing: Callable[[str, object], None], message: str, threads: frozenset[threading.Thread] | None
    ) -> None:
        self._passing = passing
        self._message = message
        self._tickets = AtomicCounter()  # a fetch-and-add: exactly one thread gets 0, on either build
        self._threads = threads
        self._halted = threading.local()
        #: whether a halt was raised (the run's end, if it ends, is the halt's doing)
        self.raised = False

    def __call__(self, kind: str, detail: object = None) -> None:
        if self._threads is None:
            first = self._tickets.fetch_add() == 0
        elif threading.current_thread() not in self._threads:
            return
        else:
            first = not getattr(self._halted, "done", False)
            self._halted.done = True
        if first:
            self.raised = True
            raise Halt(self._message)
        self._passing(kind, detail)


class RunActive(RuntimeError):
    """:func:`running` was asked for a run while another is active in this process."""


_idle = Scheduler()
_active: Scheduler = _idle
# Guards the hand-over of ``_active``, and lets a new run wait for an orphaned one to end.
_handover = threading.Condition(threading.Lock())


def point(kind: str = "point", detail: object = None, obj: object = None, write: bool | None = None) -> None:
    """Announce an operation on shared state; the scheduler may switch here.

    ``kind`` and ``detail`` say what the operation is (for logs); a bare
    ``point()`` is a place where another thread may run first.  ``obj``
    names the shared object the operation touches and ``write`` whether it
    changes it (unsaid: it may), so that partial-order strategies know a
    read and a write of one object race whatever their labels
    (:mod:`testbed.sched._access`; ``write`` alone names the label as the
    object).  Pass them by keyword (``point("load x", obj="x",
    write=False)``).
    """
    # obj and write are not keyword-only on purpose: a function with
    # keyword-only parameters is never specialized by CPython's adaptive
    # interpreter (3.11+: "simple" functions only), and every model point
    # paid for it; bench/scheduler.py's nonswitch_point_vs_noop_call went
    # 2.51 -> 3.46 with them keyword-only, 2.51 -> 2.74 (median of 5 runs
    # on a loaded machine; best 2.44) as they are now.
    # The fast path of a controlled run, inline because a call is most of a
    # point's cost: below the scheduler's horizon nothing can happen but the
    # step count (see _controlled).  Other schedulers keep the horizon at 0.
    scheduler = _active
    step = scheduler._step + 1
    if step < scheduler._horizon:
        scheduler._step = step
        return
    if obj is not None or write is not None:
        detail = access(kind if obj is None else obj, write, detail)
    scheduler.point(kind, detail)


def active_scheduler() -> Scheduler:
    """The scheduler of the current run (an idle one outside runs)."""
    return _active


@contextlib.contextmanager
def running(scheduler: Scheduler) -> Iterator[Scheduler]:
    """Make ``scheduler`` the active one for the duration of a run.

    Only one run is active per process at a time: the scheduler is global
    because ``point`` is called from every thread of the model.  A run given
    up while still active (:meth:`Scheduler.orphan`) is waited for, up to
    its ``wait_timeout``; past that, or for a run that is simply active,
    :class:`RunActive` says which.
    """
    global _active
    with _handover:
        orphan = _active.orphaned
        if orphan is not None:
            _handover.wait_for(lambda: _active is _idle, timeout=_active.wait_timeout)
        if _active is not _idle:
            why = "" if orphan is None else f" ({orphan}; its threads pass no scheduling point: use a new process)"
            raise RunActive(f"a run is already active in this process{why}")
        _active = scheduler
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.stop()
        with _handover:
            _active = _idle
            _handover.notify_all()
