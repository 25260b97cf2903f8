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
on it), best naming the shared object and the access (``point("load x",
obj="x", write=False)``) so that POS and SURW know which operations race.
Threads the code under test starts as :class:`~testbed.sched.Thread` (and
:class:`~testbed.sched.Timer`) are steered too (spawned through the
scheduler), so the explored function may be a whole test body; a schedule
ends, and ``check`` runs, only once every steered thread has ended.  Plain
``threading`` threads and the calling thread are not steered.

Once a schedule has failed, its other threads stop at their next point
(:meth:`~testbed.sched.ControlledScheduler.cancel`) instead of running to
their ends.

Strategies, by name with their parameters (:mod:`testbed.sched._explore_strategies`):
``"pct"`` (``depth=``), ``"pos"``, ``"surw"`` (``power=``), ``"random"`` (``p=``),
``"uniform"``, ``"portfolio"``, or a factory ``seed -> Strategy`` (or
``(seed, horizon) -> Strategy``) called once per schedule.  For pct, surw,
portfolio and a two-argument factory, schedule 0 is a probe run that never
preempts: its step count is PCT's horizon (and the result's ``horizon``),
its count of each thread's points SURW's profile.  Schedule ``i``'s seed is
derived from ``(seed, i)``, so a campaign is a function of its arguments.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from testbed.sched._access import fresh_objects
from testbed.sched._controlled import ControlledScheduler
from testbed.sched._explore_strategies import Plan, Probe, plan
from testbed.sched._explore_trace import save as save_trace
from testbed.sched._halts import Cancelled, Deadlock, ReplayDiverged, StepLimit
from testbed.sched._points import running
from testbed.sched._primitives import fresh_names
from testbed.sched._seeds import derive_seed
from testbed.sched._strategies import ReplayStrategy, Strategy
from testbed.sched._surw import SURWProfile
from testbed.sched._tape_shrink import explain_tape, shrink_tape
from testbed.sched._trace import ReplayDivergedError, decode_tape

__all__ = ["ExploreResult", "explore"]

#: the failure kinds, in the words of :attr:`ExploreResult.kind`
KINDS = ("exception", "check", "deadlock", "livelock", "timeout")
StrategyFactory = Callable[..., Strategy]


@dataclasses.dataclass(eq=False)
class ExploreResult:
    """What :func:`explore` (or :meth:`replay`) found.

    ``schedules`` counts the schedules run.  When ``failed``, the rest
    describe the first failing schedule: its index and seed (None for the
    pct probe), the thread names in registration order, its tape (runs
    ``[decision, runnable, thread, repeat]``, the ``testbed.trace/4``
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
    #: scheduling points and preemptions of the failing schedule (without a
    #: failure: of the last schedule run)
    steps: int = 0
    preemptions: int = 0
    #: the probe run's step count (PCT's horizon), None when no probe ran
    horizon: int | None = None
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
        return _replay(self._explorer, self.tape, self.schedule, self.seed)

    def shrink(self) -> ExploreResult:
        """The failing schedule with preemptions removed until none can be (1-minimal; see ``_tape_shrink``)."""
        if not self.failed or self._explorer is None:
            raise ValueError("nothing to shrink: no schedule failed")
        return shrink_tape(self)

    def explain(self) -> str:
        """The racing operations behind each preemption of the failing schedule, with their source lines."""
        if not self.failed or self._explorer is None:
            raise ValueError("nothing to explain: no schedule failed")
        return explain_tape(self)

    def save(self, path: str | Path) -> Path:
        """Write the failing schedule as a ``testbed.trace/4`` file (see ``_explore_trace``); returns the path."""
        if not self.failed or self._explorer is None:
            raise ValueError("nothing to save: no schedule failed")
        return save_trace(self, path)

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

    def result(self, schedules: int, horizon: int | None = None) -> ExploreResult:
        failure = self.failure
        scheduler = self.scheduler
        if failure is None:
            return ExploreResult(
                False,
                schedules,
                self.strategy,
                steps=scheduler.steps,
                preemptions=scheduler.preemptions,
                horizon=horizon,
            )
        error = failure.exception
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
            horizon=horizon,
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

        def failed(error: BaseException, thread: str) -> None:
            if isinstance(error, ReplayDiverged | Cancelled):
                return  # kept by the scheduler (divergence()), or after the failure: not the program's
            failures.append(_Failure.of(error, thread, scheduler.steps))
            if len(failures) == 1:
                # Nothing after the first failure is reported: stop the others at their next point.
                scheduler.cancel(f"thread {thread} failed")

        scheduler.on_thread_error = failed
        with fresh_names(), fresh_objects():
            args: tuple[object, ...] = () if self.setup is None else (self.setup(),)

            def body(thread: str, function: Callable[..., object]) -> None:
                try:
                    function(*args)
                except BaseException as error:  # the finding: reported, never printed
                    failed(error, thread)

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
    strategy: str | StrategyFactory = "portfolio",
    schedules: int = 1000,
    seed: int = 0,
    max_steps: int = 100_000,
    timeout: float = 10.0,
    pin_cpu: bool = True,
    depth: int | None = None,
    p: float | None = None,
    power: int | None = None,
) -> ExploreResult:
    """Run ``threads`` under control for up to ``schedules`` schedules; stop at the first failure.

    See the module documentation for the calling convention, the failure
    kinds and the strategies (``depth`` is PCT's, ``p`` the random walk's,
    ``power`` SURW's).
    ``max_steps`` bounds one schedule's scheduling points (past it: a
    livelock), ``timeout`` its wall time (past it: a timeout).
    ``pin_cpu`` pins the calling thread, and so the threads it starts, to
    one CPU while a schedule runs (faster handoffs; one thread runs at a
    time anyway) and restores its mask afterwards, whatever happens; False
    leaves the affinity alone.

    Raises ``TypeError`` or ``ValueError`` for bad arguments, and
    ``RuntimeError`` when called while a run is active (from inside an
    explored thread, say).
    """
    names, functions = _threads(threads)
    for name, value in (("setup", setup), ("check", check)):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be callable or None, got {value!r}")
    how = plan(strategy, depth, p, power)
    schedules = _count("schedules", schedules, 1)
    seed = _count("seed", seed, 0)
    max_steps = _count("max_steps", max_steps, 1)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not isinstance(pin_cpu, bool):
        raise TypeError(f"pin_cpu must be True or False, got {pin_cpu!r}")
    explorer = _Explorer(names, functions, setup, check, max_steps, float(timeout), pin_cpu)
    return _campaign(explorer, how, schedules, seed)


def _threads(
    threads: Sequence[Callable[..., object]] | Mapping[str, Callable[..., object]],
) -> tuple[list[str], list[Callable[..., object]]]:
    """The thread names and functions of ``explore``'s first argument (checked)."""
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
    return names or _thread_names(functions), functions


def _campaign(explorer: _Explorer, how: Plan, schedules: int, seed: int) -> ExploreResult:
    """Schedules ``0 .. schedules-1`` (the first a probe when the plan needs one) until one fails."""
    first = 0
    probe: Probe | None = None
    horizon: int | None = None
    if how.probe:
        # A run that never preempts, itself schedule 0: its length is PCT's
        # horizon, its count of each thread's points SURW's profile.
        profile = SURWProfile(user=True)
        run = explorer.run_schedule(profile, how.label, 0, None)
        horizon = run.scheduler.steps
        if run.failed or schedules == 1:
            return run.result(1, horizon)
        probe = Probe(horizon, tuple(profile.counts))
        first = 1
    last: _Run | None = None
    for index in range(first, schedules):
        child = derive_seed(seed, index)
        last = explorer.run_schedule(how.make(index, child, probe), how.member(index), index, child)
        if last.failed:
            return last.result(index + 1, horizon)
    assert last is not None
    passed = last.result(schedules, horizon)
    passed.strategy = how.label
    return passed


def _replay(explorer: _Explorer, tape: list[list[int]], schedule: int | None, seed: int | None) -> ExploreResult:
    """Run ``tape`` checked; :class:`ReplayDivergedError` when the run stops following it before failing."""
    decisions, expected = decode_tape(tape)
    run = explorer.run_schedule(ReplayStrategy(decisions, expected), "replay", schedule, seed)
    divergence = run.divergence
    if divergence is not None and not (run.failed and run.step is not None and run.step < divergence.step):
        raise ReplayDivergedError(
            f"replay diverged at step {divergence.step}: {divergence.message.split(': ', 1)[-1]}",
            divergence.step,
            divergence.entry,
            divergence.expected,
            divergence.found,
        )
    return run.result(1)
