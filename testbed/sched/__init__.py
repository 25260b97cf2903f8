"""Scheduling layer: the points where threads may interleave and the only
blocking primitives the model is allowed to use.

Mirrors no single V8 file; it plays the role the OS scheduler and the
platform's mutexes and condition variables (``base::Mutex``,
``base::ConditionVariable``) play in V8, plus the hooks a concurrency tester
(jcstress, Fray, Shuttle) puts between them.  Every operation on shared state
in the model calls :func:`point` first; every wait goes through
:class:`Lock`, :class:`Condition`, :class:`Event` or :class:`Barrier` (all
built on one :class:`ParkingLot` each, parked and unparked by the active
scheduler), so a scheduler can perturb (free mode) or serialize (controlled
mode) the threads without the model code knowing which.  A scheduler stops
a run from inside a thread with a :class:`Halt` (``Deadlock``,
``StepLimit``), which no ``except Exception`` can swallow.

The same machinery is a library for anyone's threads: :func:`explore` runs
plain functions as threads under a controlled scheduler until a check fails
or an exception escapes, and returns the failing schedule with
``replay()``, ``shrink()``, ``explain()`` and ``save()`` (and
:func:`replay` reads a saved one back); :func:`minimize_tape` shrinks any
failing tape to a 1-minimal one; :class:`Lock`, :class:`RLock`, :class:`Condition`,
:class:`Event`, :class:`Semaphore`, :class:`BoundedSemaphore`,
:class:`Barrier` (with :class:`BrokenBarrierError`, ``threading``'s own),
:class:`Timer`, :class:`Thread`, :class:`Queue`, :class:`LifoQueue`, :class:`PriorityQueue`
and :class:`SimpleQueue` stand in for :mod:`threading`'s and :mod:`queue`'s.
:class:`AtomicCounter`, :class:`Tally` and :func:`atomic_word` are the
model's atomics (fetch-and-add, per-thread counters, a compare-and-swap's
critical section), exact on a free-threaded build too.
"""

from testbed.sched._access import Access
from testbed.sched._atomic import AtomicCounter, Tally, atomic_word
from testbed.sched._controlled import ControlledScheduler
from testbed.sched._explore import ExploreResult, explore
from testbed.sched._explore_replay import replay
from testbed.sched._explore_strategies import UniformStrategy
from testbed.sched._follow import FollowStrategy
from testbed.sched._halts import Cancelled, Deadlock, Halt, ReplayDiverged, StepLimit
from testbed.sched._minimize import Minimized, minimize_tape, trim_tape
from testbed.sched._parking import ParkingLot, Patience
from testbed.sched._points import (
    FreeScheduler,
    HaltSwitch,
    RunActive,
    Scheduler,
    active_scheduler,
    point,
    running,
)
from testbed.sched._pos import POSStrategy
from testbed.sched._primitives import (
    Barrier,
    BoundedSemaphore,
    BrokenBarrierError,
    Condition,
    Event,
    Lock,
    RLock,
    Semaphore,
)
from testbed.sched._queue import LifoQueue, PriorityQueue, Queue, SimpleQueue
from testbed.sched._seeds import derive_seed
from testbed.sched._stacks import thread_stacks
from testbed.sched._strategies import NEVER, NoPreemptionStrategy, PCTStrategy, RandomStrategy, ReplayStrategy, Strategy
from testbed.sched._surw import SURWProfile, SURWStrategy
from testbed.sched._thread import Thread
from testbed.sched._timer import Timer
from testbed.sched._trace import (
    TRACE_KINDS,
    TRACE_SCHEMA,
    ConfigCheck,
    ReplayDivergedError,
    TraceError,
    decode_tape,
    encode_tape,
    load_trace,
    order_problem,
    tape_problem,
    validate_trace,
    write_trace,
)
from testbed.sched._violation import Violation, WaitTimeout
from testbed.sched._watch import WatchedReplay

__all__ = [
    "Access",
    "Cancelled",
    "Thread",
    "UniformStrategy",
    "WatchedReplay",
    "replay",
    "AtomicCounter",
    "Tally",
    "atomic_word",
    "derive_seed",
    "TRACE_KINDS",
    "TRACE_SCHEMA",
    "ConfigCheck",
    "ReplayDivergedError",
    "TraceError",
    "decode_tape",
    "encode_tape",
    "load_trace",
    "order_problem",
    "tape_problem",
    "validate_trace",
    "write_trace",
    "Barrier",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "ExploreResult",
    "FollowStrategy",
    "LifoQueue",
    "PriorityQueue",
    "Queue",
    "SimpleQueue",
    "Timer",
    "RLock",
    "Semaphore",
    "explore",
    "Minimized",
    "minimize_tape",
    "trim_tape",
    "Condition",
    "ControlledScheduler",
    "Deadlock",
    "NoPreemptionStrategy",
    "PCTStrategy",
    "POSStrategy",
    "SURWProfile",
    "SURWStrategy",
    "RandomStrategy",
    "ReplayDiverged",
    "ReplayStrategy",
    "StepLimit",
    "Strategy",
    "NEVER",
    "Event",
    "Halt",
    "HaltSwitch",
    "FreeScheduler",
    "Lock",
    "ParkingLot",
    "Patience",
    "Scheduler",
    "Violation",
    "WaitTimeout",
    "RunActive",
    "active_scheduler",
    "point",
    "running",
    "thread_stacks",
]
