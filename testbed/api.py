"""The Python API: run one configuration, or stress many seeds.

``run(config)`` builds an isolate with the serial scavenger and the checker,
runs it under the strategy's scheduler and returns a :class:`RunResult`.
``stress(...)`` runs schedules with seeds derived from one stress seed,
across scenarios, until a schedule count or a time budget is reached, and
aggregates what they found; every violation carries the ``testbed run``
command that reruns its schedule.

A replay given a trace's tape is checked decision by decision; one that no
longer follows its tape raises :class:`~testbed.sched.ReplayDivergedError`
rather than return the findings of some other schedule.  ``replay(path)``
and ``shrink(path, out)`` take a trace file; a trace of a custom program
records the program's reference and imports it again, or takes the
function as ``program=`` when it cannot be imported (a closure, a lambda).

``reproduce_command(config)`` is the ``testbed run`` command line that
builds ``config`` again: every field that differs from its scenario's
defaults (or from ``Config``'s when it has no scenario) is on it, as its own
flag (``--mutators``, ``--ops``, ``--gc-interval``,
``--store-buffer-capacity``, ``--scavenger-workers``) or as ``--set
NAME=VALUE`` (``--set mix.WEIGHT=N`` for the operation mix).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
import resource
import shlex
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from testbed import validate
from testbed._version import __version__
from testbed.calibrate import KNOBS, Calibration, calibration, knob_rng
from testbed.campaign import cluster as campaign_cluster
from testbed.campaign.buckets import Bucket, Buckets
from testbed.campaign.processes import run_in_processes
from testbed.check import Checker
from testbed.deopt import TieringDeoptimizer
from testbed.faults import validate_faults
from testbed.gc import MarkCompact, ParallelScavenger, SerialScavenger
from testbed.runtime import (
    Config,
    ConfigError,
    Event,
    Isolate,
    Mix,
    Program,
    derive_seed,
    program_importable,
    program_reference,
)
from testbed.scenarios import scenario_config
from testbed.sched import (
    TRACE_SCHEMA,
    ControlledScheduler,
    FreeScheduler,
    NoPreemptionStrategy,
    PCTStrategy,
    POSStrategy,
    RandomStrategy,
    ReplayDiverged,
    ReplayDivergedError,
    ReplayStrategy,
    Scheduler,
    Strategy,
    SURWProfile,
    SURWStrategy,
    Violation,
    decode_tape,
    running,
    tape_problem,
)

if TYPE_CHECKING:
    from testbed.shrink import ReplayResult, ShrinkResult

__all__ = [
    "FLAG_FIELDS",
    "PCT_FALLBACK_HORIZON",
    "PORTFOLIO",
    "STRATEGIES",
    "Finding",
    "RunResult",
    "StressResult",
    "UnknownStrategy",
    "config_changes",
    "pct_horizon",
    "portfolio_member",
    "replay",
    "reproduce_command",
    "run",
    "shrink",
    "stress",
    "surw_profile",
]

#: strategies this version can run; all but ``free`` are controlled (exactly replayable).
#: ``hypothesis`` exists only in ``stress``: Hypothesis draws each schedule's tape
#: and shrinks the first failing one.
STRATEGIES = validate.STRATEGIES

#: Config fields with a CLI flag of their own (``--gc-interval``); every other knob is ``--set NAME=VALUE``
FLAG_FIELDS = ("mutators", "ops", "gc_interval", "store_buffer_capacity", "scavenger_workers")

#: Config fields a command line gives with --scenario, --program, --seed, --strategy and --fault
_IDENTITY = ("scenario", "program", "seed", "strategy", "faults")

#: where ``stress(strategy="hypothesis")`` keeps its example database unless told otherwise
HYPOTHESIS_DB = ".hypothesis/testbed"


UnknownStrategy = validate.UnknownStrategy


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


#: what ``strategy="portfolio"`` rotates through: schedule ``i`` of a campaign runs
#: ``PORTFOLIO[i % len(PORTFOLIO)]``, a single run the member its seed picks
#: (:func:`portfolio_member`).  A new member is one more name here.
PORTFOLIO = ("random", "pct", "pos", "surw")

#: PCT's horizon when the probe run measures nothing (it raised, or reached ``max_steps``)
PCT_FALLBACK_HORIZON = 10_000


def portfolio_member(index: int) -> str:
    """The strategy that schedule ``index`` of a portfolio campaign (or a run with seed ``index``) uses."""
    return PORTFOLIO[index % len(PORTFOLIO)]


#: probe runs by config (strategy and horizon normalised away): (steps, stats); a few hundred at most
_probes: dict[Config, tuple[int | None, dict[str, Any]]] = {}
_HORIZON_CACHE = 256


def _probe(config: Config) -> tuple[int | None, dict[str, Any]]:
    """One run of ``config`` that never preempts: its step count (None if it raised) and its stats.

    Deterministic (a function of the config), so cached per config; PCT's
    horizon and a calibrated campaign's knob ranges both come from it.
    """
    key = config.replace(strategy="pct", pct_horizon=0)
    cached = _probes.get(key)
    if cached is not None:
        return cached
    try:
        scheduler = ControlledScheduler(NoPreemptionStrategy(), max_steps=config.max_steps)
        stats = _execute(key, scheduler).stats
        probed: tuple[int | None, dict[str, Any]] = (scheduler.steps, stats)
    except Exception:
        probed = (None, {})
    if len(_probes) >= _HORIZON_CACHE:
        _probes.clear()
    _probes[key] = probed
    return probed


def pct_horizon(config: Config) -> int:
    """PCT's horizon for ``config``: the step count of one run of it that never preempts.

    The probe runs the same config (scenario, program, seed, faults,
    knobs) under :class:`~testbed.sched.NoPreemptionStrategy`, checked like
    any run; it is deterministic, so the same config always measures the
    same horizon.  At least ``pct_depth``; :data:`PCT_FALLBACK_HORIZON` when
    the probe raises (a program that errors outside the model's own
    handlers) or reaches ``max_steps`` (a livelock without preemption).
    A violation or a deadlock in the probe does not matter: the steps it
    ran until then are the measure.  Results are cached per config.
    """
    steps, _ = _probe(config)
    if steps is None or steps >= config.max_steps:
        steps = PCT_FALLBACK_HORIZON
    return max(steps, config.pct_depth, 1)


def probe_stats(config: Config) -> dict[str, Any]:
    """The stats of the probe run of ``config`` (see :func:`pct_horizon`); empty if it raised."""
    return _probe(config)[1]


#: SURW profiles by config (strategy normalised away); a few hundred at most
_profiles: dict[Config, tuple[int, ...]] = {}


def surw_profile(config: Config) -> tuple[int, ...]:
    """SURW's estimate for ``config``: each thread's interesting points in one run that never preempts.

    By thread registration index.  The profile is a function of the config
    alone (the same config, run under :class:`~testbed.sched.SURWProfile`),
    so it is not recorded anywhere: a rerun of a ``surw`` config (its
    reproduce command, a trace) recomputes the same profile and draws the
    same schedule.  A profiling run that raises counts what it reached
    (empty: every thread weighs 1, a uniform walk).  Cached per config.
    """
    key = config.replace(strategy="surw")
    cached = _profiles.get(key)
    if cached is not None:
        return cached
    profiler = SURWProfile()
    with contextlib.suppress(Exception):
        _execute(key, ControlledScheduler(profiler, max_steps=config.max_steps))
    profile = tuple(profiler.counts)
    if len(_profiles) >= _HORIZON_CACHE:
        _profiles.clear()
    _profiles[key] = profile
    return profile


def _resolved(config: Config) -> Config:
    """``config`` as it runs: a portfolio's member strategy chosen, PCT's horizon measured."""
    if config.strategy == "portfolio":
        config = config.replace(strategy=portfolio_member(config.seed))
    if config.strategy == "pct" and config.pct_horizon == 0:
        config = config.replace(pct_horizon=pct_horizon(config))
    return config


def _scheduler_for(config: Config, tape: Tape | None) -> Scheduler:
    strategy: Strategy
    config = _resolved(config)
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
        # PCT draws its change points from the first pct_horizon steps: the
        # length of this config's run, measured by a probe (_resolved).
        strategy = PCTStrategy(derive_seed(config.seed, 4), config.pct_depth, config.pct_horizon)
    elif config.strategy == "pos":
        strategy = POSStrategy(derive_seed(config.seed, 6))
    elif config.strategy == "surw":
        # Weighted by a profiling run of this very config (surw_profile, cached).
        strategy = SURWStrategy(derive_seed(config.seed, 7), surw_profile(config))
    elif config.strategy == "hypothesis":
        raise UnknownStrategy("strategy 'hypothesis' searches many schedules: use it with `stress`")
    elif config.strategy == "replay":
        if tape is None:
            raise UnknownStrategy("strategy 'replay' needs a tape (use `testbed replay TRACE`)")
        strategy = _replay_strategy(tape)
    else:
        raise UnknownStrategy(f"unknown strategy {config.strategy!r} (available: {', '.join(STRATEGIES)})")
    return ControlledScheduler(strategy, max_steps=config.max_steps)


def _field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(Config) if f.name not in _IDENTITY}


def settable_fields() -> list[str]:
    """Every name ``--set NAME=VALUE`` takes: the Config knobs and ``mix.WEIGHT``."""
    names = [name for name in _field_types() if name != "mix"]
    return names + [f"mix.{weight}" for weight, _ in Mix().items()]


def _format_value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that parses back to the same float
    return str(value)


def _parse_value(name: str, kind: str, text: str) -> object:
    """``text`` as a value of the field's type (``int``, ``bool``, ``float``, ``float | None``)."""
    word = text.strip().lower()
    try:
        if "None" in kind and word == "none":
            return None
        if kind == "bool":
            if word not in ("true", "false"):
                raise ValueError
            return word == "true"
        if kind == "int":
            return int(word)
        return float(word)
    except ValueError:
        expected = {"bool": "true or false", "int": "an integer"}.get(kind, "a number")
        if "None" in kind:
            expected += " or none"
        raise ConfigError(f"--set {name}: expected {expected}, got {text!r}") from None


def config_changes(base: Config, settings: Sequence[str]) -> dict[str, Any]:
    """The Config changes that ``--set NAME=VALUE`` settings make to ``base``.

    ``NAME`` is a Config field (``pct_depth``, ``switch_probability``,
    ``switch_interval`` ... ``none`` for None, ``true``/``false`` for flags) or
    ``mix.WEIGHT`` (one weight of the operation mix, the others kept from
    ``base``).  Raises :class:`ConfigError` naming the setting.
    """
    types = _field_types()
    changes: dict[str, Any] = {}
    weights: dict[str, int] = {}
    for setting in settings:
        name, equals, text = setting.partition("=")
        name = name.strip().replace("-", "_")
        if not equals:
            raise ConfigError(f"--set needs NAME=VALUE, got {setting!r}")
        if name.startswith("mix."):
            weight = name.removeprefix("mix.")
            if weight not in dict(Mix().items()):
                raise ConfigError(
                    f"--set {name}: unknown mix weight {weight!r} (known: {', '.join(dict(Mix().items()))})"
                )
            weights[weight] = _parse_value(name, "int", text)  # type: ignore[assignment]
        elif name in types and name != "mix":
            changes[name] = _parse_value(name, types[name], text)
        elif name in _IDENTITY or name == "mix":
            flag = {"faults": "--fault", "mix": "--set mix.WEIGHT=N"}.get(name, f"--{name}")
            raise ConfigError(f"--set {name}: use {flag}")
        else:
            raise ConfigError(f"--set: unknown config field {name!r} (known: {', '.join(settable_fields())})")
    if weights:
        changes["mix"] = dataclasses.replace(base.mix, **weights)
    return changes


def _base_of(config: Config) -> Config:
    return scenario_config(config.scenario)


def _differences(config: Config) -> list[tuple[str, Any]]:
    """``(field, value)`` of every knob (not scenario, program, seed, strategy, faults) unlike the base's."""
    base = _base_of(config)
    return [(name, getattr(config, name)) for name in _field_types() if getattr(config, name) != getattr(base, name)]


def reproduce_command(config: Config) -> str:
    """The ``testbed run`` command line that builds ``config`` again and reruns its schedule.

    It names the scenario (``--scenario none`` for a Config without one and
    without a program), the program's reference, the seed, strategy and
    faults, and every knob that differs from the scenario's defaults.  For a
    program that cannot be imported (a closure, a lambda) it is the Python
    call instead, ``testbed.run(testbed.Config(program=NAME, ...))``, to be
    run where ``NAME`` is that function.
    """
    if config.program is not None and not program_importable(config.program):
        return _reproduce_call(config)
    words = ["testbed", "run"]
    if config.scenario is not None:
        words += ["--scenario", config.scenario]
    elif config.program is None:
        words += ["--scenario", "none"]
    if config.program is not None:
        words += ["--program", program_reference(config.program)]
    words += ["--seed", str(config.seed), "--strategy", config.strategy]
    for fault in sorted(config.faults):
        words += ["--fault", fault]
    base = _base_of(config)
    settings: list[str] = []
    for name, value in _differences(config):
        if name in FLAG_FIELDS:
            words += [f"--{name.replace('_', '-')}", str(value)]
        elif name == "mix":
            settings += [
                f"mix.{w}={n}" for (w, n), (_, old) in zip(value.items(), base.mix.items(), strict=True) if n != old
            ]
        else:
            settings.append(f"{name}={_format_value(value)}")
    for setting in settings:
        words += ["--set", setting]
    return shlex.join(words)


def _reproduce_call(config: Config) -> str:
    """The Python call that reruns ``config``, whose program is a function in the caller's scope."""
    name = getattr(config.program, "__name__", "")
    arguments = [f"program={name if name.isidentifier() else 'program'}"]
    arguments += [f"seed={config.seed}", f"strategy={config.strategy!r}"]
    if config.faults:
        arguments.append(f"faults={sorted(config.faults)!r}")
    for field, value in _differences(config):
        if field == "mix":
            weights = ", ".join(
                f"{w}={n}" for (w, n), (_, d) in zip(value.items(), Mix().items(), strict=True) if n != d
            )
            arguments.append(f"mix=testbed.Mix({weights})")
        else:
            arguments.append(f"{field}={value!r}")
    if config.scenario is None:
        return f"testbed.run(testbed.Config({', '.join(arguments)}))"
    return f"testbed.run(testbed.scenario_config({config.scenario!r}, {', '.join(arguments)}))"


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

    @property
    def reproduce(self) -> str:
        """The command (or, for a program that cannot be imported, the Python call) that reruns this run.

        Exact for controlled strategies; a ``free`` rerun repeats the workload, not the interleaving.
        """
        return reproduce_command(self.config)


def run(config: Config, tape: Tape | None = None) -> RunResult:
    """Run ``config`` once, checked; never raises for a violation, only for bad input.

    ``tape`` is the schedule for ``strategy="replay"``: either a list of
    decisions (any non-negative integers, read modulo the choices; past its
    end every decision is 0), or a trace's tape (``result.trace["tape"]``),
    whose replay is checked at every decision and raises
    :class:`~testbed.sched.ReplayDivergedError` at the first mismatch.
    A violation found before the divergence was found by the recorded
    schedule and is returned as usual.

    ``strategy="portfolio"`` runs the member its seed picks
    (:func:`portfolio_member`); ``strategy="pct"`` with ``pct_horizon=0``
    measures the horizon first (:func:`pct_horizon`).  ``result.config``
    (and the trace's config) is the config that ran: the member strategy,
    the measured horizon.
    """
    if not isinstance(config, Config):
        raise ConfigError(f"config must be a testbed.Config (e.g. testbed.scenario_config('waltz')), got {config!r}")
    if tape is not None:
        if config.strategy != "replay":
            raise ConfigError(f"tape is read only by strategy 'replay', but config.strategy is {config.strategy!r}")
        tape = validate.tape(tape)
    validate_faults(config.faults)
    config.program_function()  # a reference that does not import fails here, before anything runs
    config = _resolved(config)  # the result's config (and trace) say which member ran, with which horizon
    return _execute(config, _scheduler_for(config, tape))


def _execute(config: Config, scheduler: Scheduler) -> RunResult:
    """Run ``config`` (validated, resolved) under ``scheduler``."""
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
        verify_s=round(checker.verify_s, 4),
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
        #: the custom program's reference (``config.program``), or null for the standard program
        "program": config.program_reference,
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
    scenario: str | None
    seed: int
    reproduce: str
    trace_path: str | None = None
    #: the number of its bucket in :attr:`StressResult.buckets` (1-based; 0: not filed)
    bucket: int = 0
    #: a calibrated campaign's drawn knobs of this schedule (:data:`testbed.calibrate.KNOBS`), else None
    knobs: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.violation.to_json()
        data.update(
            scenario=self.scenario, seed=self.seed, trace=self.trace_path, reproduce=self.reproduce, bucket=self.bucket
        )
        if self.knobs is not None:
            data["knobs"] = self.knobs
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
    scenarios: list[str | None]
    seed: int
    strategy: str
    faults: frozenset[str]
    schedules: int = 0
    failed_schedules: int = 0
    findings: list[Finding] = dataclasses.field(default_factory=list)
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    wall_s: float = 0.0
    interrupted: bool = False
    #: why the campaign stopped before its budget (``SIGINT``, ``SIGTERM``, ``max-rss``, ``interrupt``), or None
    stopped: str | None = None
    #: findings grouped by signature, in the order the buckets opened
    buckets: Buckets = dataclasses.field(default_factory=Buckets)
    #: what the last :meth:`add` filed: ``(finding, bucket, "opened" | "smaller" | "counted")``
    filed: list[tuple[Finding, Bucket, str]] = dataclasses.field(default_factory=list)
    #: whether each schedule drew its knobs (``stress(calibrate=True)``): findings then carry them
    calibrated: bool = False

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
        self.filed = []
        knobs = {name: getattr(result.config, name) for name in KNOBS} if self.calibrated else None
        for violation in result.violations:
            finding = Finding(violation, result.config.scenario, result.config.seed, reproduce, knobs=knobs)
            bucket, what = self.buckets.add(finding, result.events, result.stats.get("preemptions", 0))
            finding.bucket = bucket.number
            self.findings.append(finding)
            self.filed.append((finding, bucket, what))

    @property
    def ok(self) -> bool:
        return not self.findings


def stress(
    scenarios: Sequence[str | None] = ("mixed",),
    *,
    seed: int = 0,
    schedules: int | None = None,
    duration: float | None = None,
    strategy: str = "free",
    faults: Sequence[str] = (),
    overrides: dict[str, Any] | None = None,
    program: Program | None = None,
    jobs: int = 1,
    on_result: Callable[[StressResult, RunResult], None] | None = None,
    hypothesis_db: Any = HYPOTHESIS_DB,
    monitor: Callable[[StressResult], str | None] | None = None,
    log_level: str | None = None,
    calibrate: bool = False,
    cluster: str | None = None,
) -> StressResult:
    """Run schedules with derived seeds until ``schedules`` or ``duration`` seconds.

    Schedule ``i`` uses scenario ``scenarios[i % len(scenarios)]`` and seed
    ``derive_seed(seed, 2, i)``, so a stress run is itself reproducible
    schedule by schedule.  With ``strategy="portfolio"`` schedule ``i`` runs
    ``PORTFOLIO[i % len(PORTFOLIO)]``; its config (so its trace and its
    reproduce command) names that member.  PCT's horizon is measured once
    per scenario (:func:`pct_horizon`, with the seed of the scenario's first
    PCT schedule) and set in every PCT schedule's config.  With ``jobs > 1`` schedules run in that many
    worker processes (one run at a time per process, because the scheduler
    is process-wide); results are still added in schedule order.  ``on_result`` is called after each schedule (for
    progress display and for writing violation files).  A KeyboardInterrupt
    stops the run early and keeps everything found so far.

    A scenario ``None`` is ``Config``'s own defaults; ``overrides`` are Config
    fields set on every scenario's config; ``program`` is a custom workload
    (a function, or a reference; worker processes import it by reference,
    so with ``jobs > 1`` it must be importable).  With
    ``strategy="hypothesis"``, ``hypothesis_db`` is the example database
    (a directory, a Hypothesis ``ExampleDatabase``, or None for none) that
    remembers failures for the next campaign.

    ``monitor(result)`` is called after every schedule, and at least once a
    second while worker processes run; a reason it returns (``"SIGTERM"``,
    ``"max-rss"``) stops the campaign cleanly: no new schedule starts, the
    ones running finish and are recorded, and ``result.stopped`` is the
    reason.  ``log_level`` (``"INFO"``, ``"DEBUG"``) makes worker processes
    log to stderr through loguru at that level (None: they stay silent).
    Findings are filed into ``result.buckets`` by signature
    (:mod:`testbed.campaign.buckets`).

    ``calibrate=True`` draws each schedule's knobs (:mod:`testbed.calibrate`):
    the first round of schedules runs each scenario as it is, then one probe
    run per scenario measures it, and schedule ``i`` draws gc
    interval, store-buffer capacity, scavenger workers, mutators, concurrent
    sweeping, forced deopts and PCT depth from the campaign seed and ``i``.
    The knobs are fields of the schedule's config (its trace and reproduce
    command rerun it) and each finding carries them (``knobs``).  A PCT
    schedule then measures its own horizon (the knobs change the run's length).

    ``cluster="tcp://HOST:PORT"`` runs the schedules on that Dask
    distributed cluster instead (the ``testbed[cluster]`` extra; workers
    import testbed, and ``program`` by reference), with the same seeds and
    results as a local campaign (:mod:`testbed.campaign.cluster`); no
    scheduler answering is a ConfigError.  ``monitor`` measures memory on
    this machine only.
    """
    scenarios, fault_set, changes = validate.stress_arguments(
        scenarios=scenarios,
        seed=seed,
        schedules=schedules,
        duration=duration,
        strategy_name=strategy,
        faults=faults,
        overrides=overrides,
        jobs=jobs,
        on_result=on_result,
    )
    if not isinstance(calibrate, bool):
        raise ConfigError(f"calibrate must be True or False, got {calibrate!r}")
    if calibrate and strategy == "hypothesis":
        raise ConfigError("calibrate draws each schedule's config; strategy 'hypothesis' draws schedules of fixed ones")
    if monitor is not None and not callable(monitor):
        raise ConfigError(f"monitor must be a function monitor(result) -> reason or None, got {monitor!r}")
    if log_level not in (None, "TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"log_level must be None or a loguru level name such as 'INFO', got {log_level!r}")
    if cluster is not None:
        campaign_cluster.validate_address(cluster)
        if jobs != 1:
            raise ConfigError(
                f"cluster and jobs exclude each other (the cluster's workers run the schedules), got jobs={jobs!r}"
            )
        if strategy == "hypothesis":
            raise ConfigError("strategy 'hypothesis' runs in one process: it cannot use a cluster")
        campaign_cluster.require_distributed()
    if program is not None:
        if (jobs > 1 or cluster is not None) and not isinstance(program, str):
            if not program_importable(program):
                where = "worker processes; use jobs=1" if cluster is None else "cluster workers; run it locally"
                raise ConfigError(f"program {program_reference(program)!r} cannot be imported by {where}")
            program = program_reference(program)
        changes["program"] = program
    configs = [scenario_config(name, strategy=strategy, faults=fault_set, **changes) for name in scenarios]
    configs[0].program_function()  # a program that does not import fails here, before anything runs
    result = StressResult(list(scenarios), seed, strategy, fault_set, calibrated=calibrate)
    started = time.monotonic()

    def budget_left(index: int) -> bool:
        if result.stopped is not None:
            return False
        if schedules is not None and index >= schedules:
            return False
        return duration is None or time.monotonic() - started < duration

    horizons: dict[int, int] = {}
    calibrations: dict[int, Calibration] = {}
    firsts: dict[int, Config] = {}

    def schedule(index: int) -> Config:
        which = index % len(configs)
        config = configs[which].replace(seed=derive_seed(seed, 2, index) % 2**32)
        if strategy == "portfolio":
            config = config.replace(strategy=portfolio_member(index))
        drawn = calibrate and index >= len(configs)
        if calibrate and not drawn:
            # The first round runs each scenario as it is, before any probe
            # (so a fault the scenario finds at once costs no probe first).
            firsts[which] = config
        elif drawn:
            # One probe per scenario (of its first schedule's config, as numfuzz
            # analyses a test once), then this schedule's own draw.
            if which not in calibrations:
                calibrations[which] = calibration(firsts[which])
            config = calibrations[which].draw(config, knob_rng(seed, index))
        if config.strategy == "pct" and config.pct_horizon == 0:
            # The horizon is in each schedule's config, so its reproduce command
            # reruns it without a probe.  Drawn knobs change a run's length, so a
            # calibrated schedule measures its own; otherwise one probe per
            # scenario, with the seed of its first PCT schedule, is enough (a
            # scenario's run length varies by a few percent between workload
            # seeds, and PCT needs the order of magnitude).
            if drawn:
                horizon = pct_horizon(config)
            else:
                if which not in horizons:
                    horizons[which] = pct_horizon(config)
                horizon = horizons[which]
            config = config.replace(pct_horizon=horizon)
        return config

    def watch() -> str | None:
        if monitor is not None and result.stopped is None:
            result.stopped = monitor(result)
        return result.stopped

    def record(outcome: RunResult) -> None:
        result.add(outcome, reproduce_command(outcome.config))
        if on_result is not None:
            on_result(result, outcome)
        watch()

    try:
        watch()
        if strategy == "hypothesis":
            _stress_with_hypothesis(
                configs, seed, schedules, duration, record, hypothesis_db, lambda: watch() is not None
            )
        elif cluster is not None:
            campaign_cluster.run_on_cluster(
                cluster,
                _run_shipped,
                schedule,
                budget_left,
                record,
                lambda: watch() is not None,
                log_level,
                ends_at=None if duration is None else started + duration,
            )
        elif jobs == 1:
            index = 0
            while budget_left(index):
                record(run(schedule(index)))
                index += 1
        else:
            run_in_processes(jobs, _run_shipped, schedule, budget_left, record, lambda: watch() is not None, log_level)
    except KeyboardInterrupt:
        result.stopped = result.stopped or "interrupt"
    except concurrent.futures.BrokenExecutor as error:  # a worker died (the OOM killer): keep what was found
        result.stopped = (monitor(result) if monitor is not None else None) or f"worker lost ({error})"
    except campaign_cluster.ClusterLost as error:  # the cluster cannot go on: keep what was found
        result.stopped = (monitor(result) if monitor is not None else None) or f"cluster lost ({error})"
    result.interrupted = result.stopped is not None
    result.wall_s = round(time.monotonic() - started, 3)
    return result


def _run_shipped(config: Config) -> RunResult:
    """:func:`run` in a worker process or on a cluster worker, its result made ready to ship back.

    A clean schedule's trace and model events go nowhere (only findings are
    filed into buckets, written under ``--out`` or explained), and they are
    most of its pickled size (a waltz run: 420 kB of 422 kB): they stay in
    the worker.
    """
    result = run(config)
    if not result.violations:
        result.trace = None
        result.events = []
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
    stopping: Callable[[], bool] = lambda: False,
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
        if stopping() or (duration is not None and time.monotonic() - started >= duration):
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


def _path_argument(path: object, name: str) -> None:
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ConfigError(f"{name} must be a file path, got {path!r}")


def _check_program(program: object) -> None:
    if program is not None and not isinstance(program, str) and not callable(program):
        raise ConfigError(f"program must be a function fn(m), a 'module:function' reference or None, got {program!r}")


def replay(path: str | os.PathLike[str], program: Program | None = None, times: int = 1) -> ReplayResult:
    """Replay the trace at ``path`` ``times`` times; a :class:`testbed.shrink.ReplayResult`.

    A trace of a custom program names it (``trace["program"]``); it is
    imported again, or, when it cannot be (a closure, a lambda), taken from
    ``program``: pass the same function the trace was recorded with.
    ``result.matches`` counts the replays that found the recorded violation at
    the recorded step.  Raises :class:`~testbed.sched.TraceError` for a file
    that is not a trace, :class:`~testbed.sched.ReplayDivergedError` when a
    replay stops following the tape, and :class:`ConfigError` for bad arguments.
    """
    from testbed.shrink import replay as replay_trace

    _path_argument(path, "path")
    _check_program(program)
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ConfigError(f"times must be an integer >= 1, got {times!r}")
    return replay_trace(path, times=times, program=program)


def shrink(
    path: str | os.PathLike[str], out: str | os.PathLike[str], program: Program | None = None, max_runs: int = 400
) -> ShrinkResult:
    """Shrink the trace at ``path`` to a calmer schedule with the same violation; write it to ``out``.

    Returns a :class:`testbed.shrink.ShrinkResult` (``before``/``after``
    measures, ``trace``).  ``program`` as for :func:`replay`.  Raises
    ``ValueError`` when the trace records no violation or does not reproduce
    it, and what :func:`replay` raises.
    """
    from testbed.sched import write_trace
    from testbed.shrink import shrink as shrink_trace

    _path_argument(path, "path")
    _path_argument(out, "out")
    _check_program(program)
    if not isinstance(max_runs, int) or isinstance(max_runs, bool) or max_runs < 1:
        raise ConfigError(f"max_runs must be an integer >= 1, got {max_runs!r}")
    result = shrink_trace(path, max_runs=max_runs, program=program)
    write_trace(out, result.trace)
    return result
