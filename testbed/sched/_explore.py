"""The scheduler as a library: run your own functions as threads under control.

:func:`explore` runs the given functions as real OS threads under a
:class:`~testbed.sched.ControlledScheduler`, one schedule after another,
until one fails, and returns an :class:`ExploreResult` whose
:meth:`~ExploreResult.replay` runs that very schedule again.

The calling convention:

* ``threads`` is a sequence of callables (thread names are the functions'
  ``__name__``, with ``-0``, ``-1``, ... appended when two are the same,
  ``thread`` for a lambda) or a mapping ``{name: callable}``.  Threads are
  registered in that order (their index on the tape).
* ``setup()``, when given, is called before each schedule, in the calling
  thread, and what it returns (the shared state) is passed to every thread
  function and to ``check`` as their one argument.  Without ``setup`` they
  are called with no argument.
* ``check(state)`` runs after every thread ended; it fails by returning
  False (any false value but None) or raising ``AssertionError``.  Any
  other exception from ``setup`` or ``check`` is a bug of the harness and
  propagates.

A schedule fails when an exception escapes a thread (kind
``"exception"``, with its traceback), when ``check`` fails (``"check"``),
when every thread left is blocked (``"deadlock"``, naming each thread and
what it waits for), when it passes ``max_steps`` scheduling points
(``"livelock"``), or when its threads are still running ``timeout``
seconds after the start (``"timeout"``: a thread blocked outside
``testbed.sched``, in a ``threading`` primitive or a sleep, or looping
without points; control is given up and the schedule cannot be replayed
exactly).

Interleavings happen only at scheduling points: every operation of the
primitives (:class:`~testbed.sched.Lock` and friends) is one, and the code
under test calls :func:`~testbed.sched.point` wherever it wants another
thread to be able to run first (between a read and the write that depends
on it).  Threads the functions start themselves, and the calling thread,
are not steered; a :class:`~testbed.sched.Timer` started by an explored
thread is (its thread is spawned through the scheduler), and a schedule
ends, and ``check`` runs, only once every steered thread has ended.

Strategies: ``"pct"`` (the default; schedule 0 is a probe run that never
preempts, and its step count is the horizon of the PCT schedules after it,
depth 3), ``"random"`` (switch at a point with probability 0.1), or a
factory ``seed -> Strategy`` called once per schedule.  Schedule ``i``'s
seed is derived from ``(seed, i)``, so a campaign is a function of its
arguments.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Mapping, Sequence

from testbed.sched._controlled import ControlledScheduler
from testbed.sched._halts import Deadlock, ReplayDiverged, StepLimit
from testbed.sched._points import running
from testbed.sched._primitives import fresh_names
from testbed.sched._seeds import derive_seed
from testbed.sched._strategies import PCTStrategy, RandomStrategy, ReplayStrategy, Strategy
from testbed.sched._trace import ReplayDivergedError, decode_tape

__all__ = ["ExploreResult", "explore"]

#: the failure kinds, in the words of :attr:`ExploreResult.kind`
KINDS = ("exception", "check", "deadlock", "livelock", "timeout")
#: the depth of the ``"pct"`` strategy (bugs needing up to two preemptions)
PCT_DEPTH = 3
#: the switch probability of the ``"random"`` strategy
RANDOM_SWITCH = 0.1

StrategyFactory = Callable[[int], Strategy]


@dataclasses.dataclass(eq=False)
class ExploreResult:
    """What :func:`explore` (or :meth:`replay`) found.

    ``schedules`` counts the schedules run.  When ``failed``, the rest
    describe the first failing schedule: its index and seed (None for the
    pct probe), the thread names in registration order, its tape (runs
    ``[decision, runnable, thread, repeat]``, the ``testbed.trace/3``
    format), the scheduling step of the failure (for an exception, the
    last point its thread passed; for a check, the run's last step), the
    thread it happened in (None for a check), a one-line ``message``, and
    the exception with its formatted ``traceback`` (None and empty when a
    check returned False or the run timed out).
    """

    failed: bool
    schedules: int
    strategy: str
    kind: str | None = None
    schedule: int | None = None
    seed: int | None = None
    threads: list[str] = dataclasses.field(default_factory=list)
    tape: list[list[int]] = dataclasses.field(default_factory=list)
    step: int | None = None
    thread: str | None = None
    message: str = ""
    exception: BaseException | None = None
    traceback: str = ""
    #: scheduling points and preemptions of the failing schedule
    steps: int = 0
    preemptions: int = 0
    #: the scheduler's log of the failing schedule: ``(step, event, thread, detail)``
    events: list[tuple[int, str, str, str]] = dataclasses.field(default_factory=list, repr=False)
    _explorer: _Explorer | None = dataclasses.field(default=None, repr=False)

    def replay(self) -> ExploreResult:
        """Run the failing schedule again, checked against its tape.

        Returns the replay's result (``schedules == 1``, ``strategy ==
        "replay"``, the same schedule index and seed); for a deterministic
        program it fails the same way at the same step.  Raises
        :class:`~testbed.sched.ReplayDivergedError` when the run stops
        following the tape before it failed (the program decides
        differently from run to run: wall time, ``id()``, unordered sets,
        unregistered threads), and ``ValueError`` when nothing failed.
        """
        if not self.failed or self._explorer is None:
            raise ValueError("nothing to replay: no schedule failed")
        decisions, expected = decode_tape(self.tape)
        strategy = ReplayStrategy(decisions, expected)
        result = self._explorer.run_schedule(strategy, "replay", self.schedule, self.seed)
        divergence = result.divergence
        if divergence is not None and not (result.failed and result.step is not None and result.step < divergence.step):
            raise ReplayDivergedError(
                f"replay diverged at step {divergence.step}: {divergence.message.split(': ', 1)[-1]}",
                divergence.step,
                divergence.entry,
                divergence.expected,
                divergence.found,
            )
        return result.result(1)

    def __str__(self) -> str:
        if not self.failed:
            return f"no failure in {self.schedules} schedule{'' if self.schedules == 1 else 's'} ({self.strategy})"
        where = "the probe run" if self.seed is None else f"schedule {self.schedule} (seed {self.seed})"
        thread = f" in thread {self.thread}" if self.thread else ""
        return (
            f"{self.kind} in {where}, at step {self.step}{thread}: {self.message} "
            f"({self.schedules} schedule{'' if self.schedules == 1 else 's'} run, {self.strategy})"
        )


@dataclasses.dataclass
class _Failure:
    kind: str
    step: int
    thread: str | None
    message: str
    exception: BaseException | None = None
    traceback: str = ""

    @classmethod
    def of(cls, error: BaseException, thread: str | None, step: int) -> _Failure:
        if isinstance(error, Deadlock):
            kind = "deadlock"
        elif isinstance(error, StepLimit):
            kind = "livelock"
        else:
            kind = "exception"
        text = str(error).strip().split("\n", 1)[0]  # one line (pytest's asserts explain below it)
        if kind == "exception":
            text = f"{type(error).__name__}: {text}" if text else type(error).__name__
        # Formatted now, without the first frame (explore's own wrapper around the thread).
        tb = error.__traceback__
        if thread is not None and tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        return cls(kind, step, thread, text, error, "".join(traceback.format_exception(type(error), error, tb)))


@dataclasses.dataclass
class _Run:
    """One schedule: what it failed with (if anything) and its scheduler."""

    explorer: _Explorer
    strategy: str
    schedule: int | None
    seed: int | None
    scheduler: ControlledScheduler
    failure: _Failure | None
    divergence: ReplayDiverged | None

    @property
    def failed(self) -> bool:
        return self.failure is not None

    @property
    def step(self) -> int | None:
        return None if self.failure is None else self.failure.step

    def result(self, schedules: int) -> ExploreResult:
        failure = self.failure
        if failure is None:
            return ExploreResult(False, schedules, self.strategy)
        error = failure.exception
        scheduler = self.scheduler
        return ExploreResult(
            failed=True,
            schedules=schedules,
            strategy=self.strategy,
            kind=failure.kind,
            schedule=self.schedule,
            seed=self.seed,
            threads=scheduler.thread_names(),
            tape=scheduler.recorded_tape(),
            step=failure.step,
            thread=failure.thread,
            message=failure.message,
            exception=error,
            traceback=failure.traceback,
            steps=scheduler.steps,
            preemptions=scheduler.preemptions,
            events=scheduler.events,  # a fresh list
            _explorer=self.explorer,
        )


class _Explorer:
    """The fixed part of a campaign: the threads, the harness and the limits."""

    def __init__(
        self,
        names: list[str],
        functions: list[Callable[..., object]],
        setup: Callable[[], object] | None,
        check: Callable[..., object] | None,
        max_steps: int,
        timeout: float,
        pin_cpu: bool,
    ) -> None:
        self.names = names
        self.functions = functions
        self.setup = setup
        self.check = check
        self.max_steps = max_steps
        self.timeout = timeout
        self.pin_cpu = pin_cpu

    def run_schedule(self, strategy: Strategy, name: str, schedule: int | None, seed: int | None) -> _Run:
        scheduler = ControlledScheduler(strategy, max_steps=self.max_steps, pin_cpu=self.pin_cpu)
        failures: list[_Failure] = []
        with fresh_names():
            args: tuple[object, ...] = () if self.setup is None else (self.setup(),)

            def body(thread: str, function: Callable[..., object]) -> None:
                try:
                    function(*args)
                except ReplayDiverged:
                    pass  # kept by the scheduler (divergence()); not the program's failure
                except BaseException as error:  # the finding: reported, never printed
                    failures.append(_Failure.of(error, thread, scheduler.steps))

            with running(scheduler):
                for n, f in zip(self.names, self.functions, strict=True):
                    scheduler.spawn(n, body, n, f)
                scheduler.launch()
                deadline = time.monotonic() + self.timeout
                # Every steered thread, including those the threads spawned through the
                # scheduler (a Timer's): the list grows only while one of them runs.
                everyone = scheduler.threads
                joined = 0
                while joined < len(everyone):
                    everyone[joined].join(max(0.0, deadline - time.monotonic()))
                    joined += 1
                stuck = [t.name for t in everyone if t.is_alive()]
                if stuck:
                    # Let them run freely (they may finish), never leave one waiting for a turn.
                    scheduler.abandon()
                    scheduler.interrupt_waits()
                    for thread in list(everyone):
                        thread.join(1.0)
            if stuck:
                message = (
                    f"threads still running {self.timeout:g}s after the start: {', '.join(stuck)} "
                    "(blocked outside testbed.sched, e.g. in a threading primitive or a sleep, "
                    "or looping without scheduling points)"
                )
                # A failure seen before the hang (a livelock whose other threads spin on) comes first.
                failures.append(_Failure("timeout", scheduler.steps, None, message))
            elif not failures and self.check is not None:
                failure = self._check(args, scheduler.steps)
                if failure is not None:
                    failures.append(failure)
        divergence = scheduler.divergence()
        return _Run(self, name, schedule, seed, scheduler, failures[0] if failures else None, divergence)

    def _check(self, args: tuple[object, ...], step: int) -> _Failure | None:
        assert self.check is not None
        try:
            ok = self.check(*args)
        except AssertionError as error:
            text = str(error).strip().split("\n", 1)[0]
            return _Failure(
                "check",
                step,
                None,
                f"check failed: {text}" if text else "check failed",
                error,
                "".join(traceback.format_exception(error)),
            )
        if ok is not None and not ok:
            return _Failure("check", step, None, f"check returned {ok!r}")
        return None


def _thread_names(threads: Sequence[Callable[..., object]]) -> list[str]:
    bases = []
    for function in threads:
        base = getattr(function, "__name__", "") or "thread"
        bases.append("thread" if base == "<lambda>" else base)
    if len(set(bases)) == len(bases):
        return bases
    return [f"{base}-{i}" for i, base in enumerate(bases)]


def _strategy_factory(strategy: str | StrategyFactory) -> tuple[str, StrategyFactory | None]:
    """(name, factory); the factory of ``"pct"`` is None (it needs the probe's horizon)."""
    if strategy == "pct":
        return "pct", None
    if strategy == "random":
        return "random", lambda seed: RandomStrategy(seed, RANDOM_SWITCH)
    if isinstance(strategy, Strategy):
        raise TypeError(
            "strategy must be 'pct', 'random' or a factory seed -> Strategy (one strategy per schedule), "
            f"not a {type(strategy).__name__} instance"
        )
    if isinstance(strategy, str) or not callable(strategy):
        raise ValueError(f"strategy must be 'pct', 'random' or a factory seed -> Strategy, got {strategy!r}")
    return getattr(strategy, "__name__", "custom"), strategy


def _count(name: str, value: object, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {value}")
    return value


def explore(
    threads: Sequence[Callable[..., object]] | Mapping[str, Callable[..., object]],
    *,
    setup: Callable[[], object] | None = None,
    check: Callable[..., object] | None = None,
    strategy: str | StrategyFactory = "pct",
    schedules: int = 1000,
    seed: int = 0,
    max_steps: int = 100_000,
    timeout: float = 10.0,
    pin_cpu: bool = True,
) -> ExploreResult:
    """Run ``threads`` under control for up to ``schedules`` schedules; stop at the first failure.

    See the module documentation for the calling convention, the failure
    kinds and the strategies.  ``max_steps`` bounds one schedule's
    scheduling points (past it: a livelock), ``timeout`` its wall time
    (past it: a timeout).  ``pin_cpu`` pins the calling thread, and so
    the threads it starts, to one CPU while a schedule runs (faster
    handoffs; one thread runs at a time anyway) and restores its mask
    afterwards, whatever happens; False leaves the affinity alone.

    Raises ``TypeError`` or ``ValueError`` for bad arguments, and
    ``RuntimeError`` when called while a run is active (from inside an
    explored thread, say).
    """
    if isinstance(threads, Mapping):
        names = list(threads)
        functions = list(threads.values())
        for name in names:
            if not isinstance(name, str) or not name:
                raise TypeError(f"thread names must be non-empty strings, got {name!r}")
    elif isinstance(threads, Sequence) and not isinstance(threads, str):
        functions = list(threads)
        names = []
    else:
        raise TypeError(f"threads must be a sequence of callables or a mapping name -> callable, got {threads!r}")
    if not functions:
        raise ValueError("threads is empty: give at least one function to run")
    for i, function in enumerate(functions):
        if not callable(function):
            raise TypeError(f"thread {names[i] if names else i} is not callable: {function!r}")
    if not names:
        names = _thread_names(functions)
    for name, value in (("setup", setup), ("check", check)):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be callable or None, got {value!r}")
    label, factory = _strategy_factory(strategy)
    schedules = _count("schedules", schedules, 1)
    seed = _count("seed", seed, 0)
    max_steps = _count("max_steps", max_steps, 1)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not isinstance(pin_cpu, bool):
        raise TypeError(f"pin_cpu must be True or False, got {pin_cpu!r}")

    explorer = _Explorer(names, functions, setup, check, max_steps, float(timeout), pin_cpu)
    first = 0
    if factory is None:
        # PCT draws its change points from the first `horizon` steps: measure
        # them with a run that never preempts, itself schedule 0.
        probe = explorer.run_schedule(ReplayStrategy([]), label, 0, None)
        if probe.failed or schedules == 1:
            return probe.result(1)
        horizon = max(probe.scheduler.steps, 1)
        first = 1

        def factory(child: int) -> Strategy:
            return PCTStrategy(child, PCT_DEPTH, horizon)

    for index in range(first, schedules):
        child = derive_seed(seed, index)
        made = factory(child)
        if not isinstance(made, Strategy):
            raise TypeError(f"the strategy factory must return a Strategy, got {made!r}")
        run = explorer.run_schedule(made, label, index, child)
        if run.failed:
            return run.result(index + 1)
    return ExploreResult(False, schedules, label)
