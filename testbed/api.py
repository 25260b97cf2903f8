"""The Python API: run one configuration, or stress many seeds.

``run(config)`` builds an isolate with the serial scavenger and the checker,
runs it under the strategy's scheduler and returns a :class:`RunResult`.
``stress(...)`` runs schedules with seeds derived from one stress seed,
across scenarios, until a schedule count or a time budget is reached, and
aggregates what they found; every violation carries the ``testbed run``
command that reruns its schedule.

A replay given a trace's tape is checked decision by decision; one that no
longer follows its tape raises :class:`~testbed.sched.ReplayDivergedError`
rather than return the findings of some other schedule.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import resource
import shlex
import time
from collections.abc import Callable, Sequence
from typing import Any

from testbed._version import __version__
from testbed.check import Checker
from testbed.deopt import TieringDeoptimizer
from testbed.faults import validate_faults
from testbed.gc import MarkCompact, ParallelScavenger, SerialScavenger
from testbed.runtime import Config, ConfigError, Event, Isolate, derive_seed
from testbed.scenarios import scenario_config
from testbed.sched import (
    TRACE_SCHEMA,
    ControlledScheduler,
    FreeScheduler,
    PCTStrategy,
    RandomStrategy,
    ReplayDiverged,
    ReplayDivergedError,
    ReplayStrategy,
    Scheduler,
    Strategy,
    Violation,
    decode_tape,
    running,
    tape_problem,
)

__all__ = [
    "STRATEGIES",
    "Finding",
    "RunResult",
    "StressResult",
    "UnknownStrategy",
    "reproduce_command",
    "run",
    "stress",
]

#: strategies this version can run; all but ``free`` are controlled (exactly replayable).
#: ``hypothesis`` exists only in ``stress``: Hypothesis draws each schedule's tape
#: and shrinks the first failing one.
STRATEGIES = ("free", "random", "pct", "replay", "hypothesis")

#: knobs the CLI can override; reproduce commands repeat them
OVERRIDES = ("mutators", "ops", "gc_interval", "store_buffer_capacity", "scavenger_workers")

#: where ``stress(strategy="hypothesis")`` keeps its example database unless told otherwise
HYPOTHESIS_DB = ".hypothesis/testbed"


class UnknownStrategy(ValueError):
    """A strategy name this version cannot run."""


#: what ``run(config, tape=...)`` takes: decisions, or a trace's run-length encoded tape
Tape = Sequence[int] | Sequence[Sequence[int]]


def _is_decision(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _replay_strategy(tape: Tape) -> ReplayStrategy:
    """Plain decisions replay unchecked; a trace's tape (runs) replays checked."""
    entries: list[Any] = list(tape)  # checked entry by entry below
    if all(_is_decision(d) for d in entries):
        return ReplayStrategy(entries)
    if all(isinstance(e, list | tuple) for e in entries):
        problem = tape_problem([list(e) for e in entries])
        if problem is not None:
            raise ConfigError(f"tape: {problem}")
        decisions, expected = decode_tape(entries)
        return ReplayStrategy(decisions, expected)
    # The first entry that is neither, or that does not match the kind of the first one.
    runs = isinstance(entries[0], list | tuple)
    bad = next(i for i, e in enumerate(entries) if isinstance(e, list | tuple) != runs or not (runs or _is_decision(e)))
    raise ConfigError(
        "tape must be a list of non-negative integers (decisions) or a trace's tape "
        f"([decision, runnable, thread, repeat] runs), got entry {bad}: {entries[bad]!r}"
    )


def _scheduler_for(config: Config, tape: Tape | None) -> Scheduler:
    strategy: Strategy
    if config.strategy == "free":
        return FreeScheduler(
            derive_seed(config.seed, 0),
            config.yield_probability,
            config.switch_interval,
            config.wait_timeout,
            config.timeout_cap,
        )
    if config.strategy == "random":
        strategy = RandomStrategy(derive_seed(config.seed, 3), config.switch_probability)
    elif config.strategy == "pct":
        # PCT needs a bound on the run's length to place its change points;
        # a few points per operation is what the standard program passes.
        horizon = max(1000, config.ops * config.mutators * 6)
        strategy = PCTStrategy(derive_seed(config.seed, 4), config.pct_depth, horizon)
    elif config.strategy == "hypothesis":
        raise UnknownStrategy("strategy 'hypothesis' searches many schedules: use it with `stress`")
    elif config.strategy == "replay":
        if tape is None:
            raise UnknownStrategy("strategy 'replay' needs a tape (use `testbed replay TRACE`)")
        strategy = _replay_strategy(tape)
    else:
        raise UnknownStrategy(f"unknown strategy {config.strategy!r} (available: {', '.join(STRATEGIES)})")
    return ControlledScheduler(strategy, max_steps=config.max_steps)


def reproduce_command(config: Config, overrides: dict[str, int] | None = None) -> str:
    """The ``testbed run`` command line that reruns ``config``'s schedule."""
    words = ["testbed", "run", "--scenario", config.scenario, "--seed", str(config.seed), "--strategy", config.strategy]
    for fault in sorted(config.faults):
        words += ["--fault", fault]
    for name, value in sorted((overrides or {}).items()):
        words += [f"--{name.replace('_', '-')}", str(value)]
    return shlex.join(words)


def _max_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclasses.dataclass
class RunResult:
    """What one run did and found."""

    config: Config
    violations: list[Violation]
    stats: dict[str, Any]
    #: the ``testbed.trace/2`` document of a controlled run (None in free mode)
    trace: dict[str, Any] | None = None
    #: the isolate's event log (pauses, scavenge tasks, deopts, weak-list links), for ``--explain``
    events: list[Event] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def run(config: Config, tape: Tape | None = None) -> RunResult:
    """Run ``config`` once, checked; never raises for a violation, only for bad input.

    ``tape`` is the schedule for ``strategy="replay"``: either a list of
    decisions (any non-negative integers, read modulo the choices; past its
    end every decision is 0), or a trace's tape (``result.trace["tape"]``),
    whose replay is checked at every decision and raises
    :class:`~testbed.sched.ReplayDivergedError` at the first mismatch.
    A violation found before the divergence was found by the recorded
    schedule and is returned as usual.
    """
    validate_faults(config.faults)
    scheduler = _scheduler_for(config, tape)
    checker = Checker(config)
    collector = (
        ParallelScavenger(config.scavenger_workers, config.faults) if config.scavenger_workers else SerialScavenger()
    )
    full_collector = MarkCompact(config.concurrent_sweeping, config.faults) if config.mark_compact_every else None
    isolate = Isolate(config, collector, checker, full_collector)
    deoptimizer = isolate.deoptimizer = TieringDeoptimizer(isolate)
    started = time.perf_counter()
    with running(scheduler):
        isolate.run()
    wall = time.perf_counter() - started
    halt = isolate.halted
    if isinstance(scheduler, ControlledScheduler):
        halt = scheduler.divergence() or halt
    if halt is not None:
        _raise_halt(halt, isolate.violations)
    mutators = isolate.mutators
    stats = isolate.stats.to_json()
    weak_list = isolate.heap.weak_code_list
    stats.update(
        deopts=deoptimizer.eager + deoptimizer.lazy,
        eager_deopts=deoptimizer.eager,
        lazy_deopts=deoptimizer.lazy,
        optimizations=sum(f.optimizations for f in deoptimizer.functions),
        weak_list_links=weak_list.links,
        weak_list_unlinks=weak_list.unlinks,
        freed=full_collector.freed if full_collector else 0,
        store_buffer_flushes=sum(m.store_buffer.flushes for m in mutators),
        store_buffer_overflows=sum(m.store_buffer.overflows for m in mutators),
        remset_inserts=isolate.heap.remembered_set.inserts,
        allocations=sum(m.allocations for m in mutators),
        checks=checker.checks,
        checks_by_invariant=dict(checker.evaluations),
        points=scheduler.steps,
        wall_s=round(wall, 4),
        max_rss_mb=_max_rss_mb(),
    )
    result = RunResult(config, list(isolate.violations), stats, events=isolate.events.events)
    if isinstance(scheduler, ControlledScheduler):
        stats.update(decisions=len(scheduler.tape), preemptions=scheduler.preemptions)
        result.trace = _trace(config, scheduler, result.violations, isolate.events.events)
    return result


def _raise_halt(halt: BaseException, violations: list[Violation]) -> None:
    """A run stopped by a non-liveness halt is invalid: raise it to the caller as an Exception.

    Except that a violation reported at an earlier step was found while the
    run still followed its tape: that finding stands (the divergence came
    as the aborted run unwound).
    """
    if isinstance(halt, ReplayDiverged):
        if violations and violations[0].step < halt.step:
            return
        raise ReplayDivergedError(str(halt), halt.step, halt.entry, halt.expected, halt.found)
    raise RuntimeError(f"the run was halted: {halt}")


def _trace(
    config: Config, scheduler: ControlledScheduler, violations: list[Violation], model_events: list[Event]
) -> dict[str, Any]:
    first = violations[0] if violations else None
    return {
        "schema": TRACE_SCHEMA,
        "testbed_version": __version__,
        "config": config.to_json(),
        "seed": config.seed,
        "strategy": config.strategy,
        #: registration order: a thread's index here is its identity on the tape
        "threads": scheduler.thread_names(),
        #: [decision, runnable, thread, repeat] runs
        "tape": scheduler.recorded_tape(),
        "preemptions": scheduler.preemptions,
        "steps": scheduler.steps,
        "events": scheduler.trace_events(),
        #: what the model did (pauses, scavenge tasks, deopts, weak-list links), for timelines
        "model_events": [[e.step, e.thread, e.kind, e.detail] for e in model_events],
        "violation": None
        if first is None
        else {"invariant": first.invariant, "step": first.step, "thread": first.thread, "message": first.message},
    }


@dataclasses.dataclass
class Finding:
    """A violation found by one schedule of a stress run."""

    violation: Violation
    scenario: str
    seed: int
    reproduce: str
    trace_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.violation.to_json()
        data.update(scenario=self.scenario, seed=self.seed, trace=self.trace_path, reproduce=self.reproduce)
        return data


#: stats that are summed over schedules; the rest are maxima
_MAXIMA = ("peak_mutator_threads", "peak_os_threads", "max_rss_mb")


def _add_counters(into: dict[str, Any], counters: dict[str, Any]) -> None:
    """Sum nested counter maps (``checks_by_invariant``, ``per_worker``: {task: {counter: n}})."""
    for key, value in counters.items():
        if isinstance(value, dict):
            _add_counters(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value


@dataclasses.dataclass
class StressResult:
    scenarios: list[str]
    seed: int
    strategy: str
    faults: frozenset[str]
    schedules: int = 0
    failed_schedules: int = 0
    findings: list[Finding] = dataclasses.field(default_factory=list)
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    wall_s: float = 0.0
    interrupted: bool = False

    def add(self, result: RunResult, reproduce: str) -> None:
        self.schedules += 1
        for key, value in result.stats.items():
            if key in _MAXIMA:
                self.stats[key] = max(self.stats.get(key, 0), value)
            elif isinstance(value, dict):
                _add_counters(self.stats.setdefault(key, {}), value)
            else:
                self.stats[key] = self.stats.get(key, 0) + value
        if result.violations:
            self.failed_schedules += 1
            for violation in result.violations:
                self.findings.append(Finding(violation, result.config.scenario, result.config.seed, reproduce))

    @property
    def ok(self) -> bool:
        return not self.findings


def stress(
    scenarios: Sequence[str] = ("mixed",),
    *,
    seed: int = 0,
    schedules: int | None = None,
    duration: float | None = None,
    strategy: str = "free",
    faults: Sequence[str] = (),
    overrides: dict[str, int] | None = None,
    jobs: int = 1,
    on_result: Callable[[StressResult, RunResult], None] | None = None,
    hypothesis_db: Any = HYPOTHESIS_DB,
) -> StressResult:
    """Run schedules with derived seeds until ``schedules`` or ``duration`` seconds.

    Schedule ``i`` uses scenario ``scenarios[i % len(scenarios)]`` and seed
    ``derive_seed(seed, 2, i)``, so a stress run is itself reproducible
    schedule by schedule.  With ``jobs > 1`` schedules run in that many
    worker processes (one run at a time per process, because the scheduler
    is process-wide); results are still added in schedule order.  ``on_result`` is called after each schedule (for
    progress display and for writing violation files).  A KeyboardInterrupt
    stops the run early and keeps everything found so far.  With
    ``strategy="hypothesis"``, ``hypothesis_db`` is the example database
    (a directory, a Hypothesis ``ExampleDatabase``, or None for none) that
    remembers failures for the next campaign.
    """
    if schedules is None and duration is None:
        raise ConfigError("stress needs a number of schedules or a duration")
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, got {jobs}")
    fault_set = validate_faults(list(faults))
    overrides = dict(overrides or {})
    configs = [scenario_config(name, strategy=strategy, faults=fault_set, **overrides) for name in scenarios]
    if strategy not in STRATEGIES:
        raise UnknownStrategy(f"unknown strategy {strategy!r} (available: {', '.join(STRATEGIES)})")
    result = StressResult(list(scenarios), seed, strategy, fault_set)
    started = time.monotonic()

    def budget_left(index: int) -> bool:
        if schedules is not None and index >= schedules:
            return False
        return duration is None or time.monotonic() - started < duration

    def schedule(index: int) -> Config:
        return configs[index % len(configs)].replace(seed=derive_seed(seed, 2, index) % 2**32)

    def record(outcome: RunResult) -> None:
        result.add(outcome, reproduce_command(outcome.config, overrides))
        if on_result is not None:
            on_result(result, outcome)

    try:
        if strategy == "hypothesis":
            if jobs != 1:
                raise ConfigError("strategy 'hypothesis' runs in one process (use --jobs 1)")
            _stress_with_hypothesis(configs, seed, schedules, duration, record, hypothesis_db)
        elif jobs == 1:
            index = 0
            while budget_left(index):
                record(run(schedule(index)))
                index += 1
        else:
            _stress_in_processes(jobs, schedule, budget_left, record)
    except KeyboardInterrupt:
        result.interrupted = True
    result.wall_s = round(time.monotonic() - started, 3)
    return result


class _BudgetSpent(BaseException):
    """Raised inside a Hypothesis search when the time budget is spent.

    A BaseException (like KeyboardInterrupt), so Hypothesis does not take it
    for a failing example to shrink: it leaves the search at once.
    """


def _campaign_database(where: Any, configs: list[Config]) -> Any:
    """``where`` (a directory path, an ExampleDatabase, or None) as the campaign's database.

    The campaign sees the database under keys prefixed with a digest of its
    configs (scenarios, faults, overrides): a campaign replays only what
    failed under the same configs, and a clean campaign never deletes
    another's failures.  Once ``stopped`` is set nothing more is saved:
    Hypothesis saves the example an exception interrupts, and the example a
    budget stop (or Ctrl-C) interrupts did not fail.
    """
    import hashlib
    import json
    import os

    from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

    if where is None:
        return None
    if not isinstance(where, ExampleDatabase):
        if not isinstance(where, str | os.PathLike) or not os.fspath(where):
            raise ConfigError(
                f"hypothesis_db must be a directory path, a hypothesis ExampleDatabase or None, got {where!r}"
            )
        if os.path.exists(where) and not os.path.isdir(where):
            raise ConfigError(f"hypothesis_db {os.fspath(where)!r} exists and is not a directory")
        where = DirectoryBasedExampleDatabase(os.fspath(where))
    digest = hashlib.sha256(json.dumps([c.to_json() for c in configs], sort_keys=True).encode()).hexdigest()
    prefix = f"testbed.stress.{digest[:24]}.".encode()

    class CampaignDatabase(ExampleDatabase):
        def __init__(self) -> None:
            super().__init__()
            self.stopped = False

        def __repr__(self) -> str:
            return f"CampaignDatabase({where!r}, {prefix!r})"

        def save(self, key: bytes, value: bytes) -> None:
            if not self.stopped:
                where.save(prefix + key, value)

        def fetch(self, key: bytes) -> Any:
            return where.fetch(prefix + key)

        def delete(self, key: bytes, value: bytes) -> None:
            where.delete(prefix + key, value)

        def move(self, src: bytes, dest: bytes, value: bytes) -> None:
            if not self.stopped:
                where.move(prefix + src, prefix + dest, value)

    return CampaignDatabase()


def _stress_with_hypothesis(
    configs: list[Config],
    seed: int,
    schedules: int | None,
    duration: float | None,
    record: Callable[[RunResult], None],
    database: Any = HYPOTHESIS_DB,
) -> None:
    """Let Hypothesis draw (scenario, workload seed, tape); shrink the first failure.

    Passing schedules are recorded as they run; of the failing ones only the
    minimal example Hypothesis ends on is recorded, so the finding is the
    shrunk schedule.

    ``duration`` ends the search, generating or shrinking, when it is spent
    (the finding is then the smallest failing schedule so far).  Failing
    examples are saved to ``database`` (a directory, default
    ``.hypothesis/testbed``, or any Hypothesis ``ExampleDatabase``; None for
    none), so the next campaign with the same configs replays them before it
    generates anything.
    """
    started = time.monotonic()
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as fix_seed
    from hypothesis import strategies as st

    from testbed.strategies import schedules as tapes

    db = _campaign_database(database, configs)
    failing: list[RunResult] = []

    class _Failed(Exception):
        pass

    def stop(reason: BaseException) -> BaseException:
        if db is not None:
            db.stopped = True
        return reason

    # @settings goes on last: @seed alone would switch the database off.
    @settings(
        max_examples=schedules if schedules is not None else 100_000,
        database=db,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.reuse, Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,  # nothing on stdout: `--json -` owns it
    )
    @fix_seed(seed)
    @given(index=st.integers(0, len(configs) - 1), workload=st.integers(0, 2**32 - 1), tape=tapes())
    def probe(index: int, workload: int, tape: list[int]) -> None:
        if duration is not None and time.monotonic() - started >= duration:
            raise stop(_BudgetSpent())
        try:
            outcome = run(configs[index].replace(seed=workload, strategy="replay"), tape=tape)
        except KeyboardInterrupt as interrupt:
            raise stop(interrupt) from None
        if outcome.violations:
            failing.append(outcome)
            raise _Failed
        if not failing:
            record(outcome)

    try:
        probe()
    except _Failed:
        record(failing[-1])  # Hypothesis' last call replays the minimal example
    except (_BudgetSpent, KeyboardInterrupt) as stopped:
        # Stopped mid-search: the finding is the smallest failing schedule so far.
        if failing:
            record(min(reversed(failing), key=lambda r: (r.stats["preemptions"], r.stats["decisions"])))
        if isinstance(stopped, KeyboardInterrupt):
            raise


def _stress_in_processes(
    jobs: int,
    schedule: Callable[[int], Config],
    budget_left: Callable[[int], bool],
    record: Callable[[RunResult], None],
) -> None:
    """Keep ``2 * jobs`` schedules in flight; record results in schedule order."""
    context = multiprocessing.get_context("forkserver")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        in_flight: list[concurrent.futures.Future[RunResult]] = []
        index = 0
        try:
            while True:
                while len(in_flight) < 2 * jobs and budget_left(index):
                    in_flight.append(pool.submit(run, schedule(index)))
                    index += 1
                if not in_flight:
                    return
                record(in_flight.pop(0).result())
        except BaseException:
            for future in in_flight:
                future.cancel()
            raise
