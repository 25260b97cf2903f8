"""One checked run: an isolate built from a Config, run under a scheduler, its findings and stats.

:func:`execute` builds the isolate (the serial or parallel scavenger, the
mark-compact collector when the config asks for one, the deoptimizer and
the checker), runs it under the given scheduler and returns a
:class:`RunResult` with the run's ``testbed.trace/4`` document: a
controlled run's tape, or a free run's recorded order.  :func:`replay_run` is a ``replay`` config run
under its tape: plain decisions replay unchecked, a trace's tape (runs)
replays checked, decision by decision, and one that no longer follows its
tape raises :class:`~testbed.sched.ReplayDivergedError` rather than return
the findings of some other schedule.  Choosing a strategy (and measuring
what PCT and SURW need first) is :func:`testbed.api.run`'s.
"""

from __future__ import annotations

import dataclasses
import resource
import time
from collections.abc import Sequence
from typing import Any

from testbed import validate
from testbed._version import __version__
from testbed.check import Checker
from testbed.deopt import TieringDeoptimizer
from testbed.faults import validate_faults
from testbed.fingerprint import fingerprint
from testbed.gc import MarkCompact, ParallelScavenger, SerialScavenger
from testbed.reproduce import reproduce_command
from testbed.runtime import Config, ConfigError, Event, Isolate
from testbed.sched import (
    TRACE_SCHEMA,
    ControlledScheduler,
    FreeScheduler,
    ReplayDiverged,
    ReplayDivergedError,
    ReplayStrategy,
    Scheduler,
    Violation,
    decode_tape,
    running,
    tape_problem,
)

__all__ = ["RunResult", "Tape", "execute", "replay_run", "replay_strategy"]

#: what ``run(config, tape=...)`` takes: decisions, or a trace's run-length encoded tape
Tape = Sequence[int] | Sequence[Sequence[int]]


def _is_decision(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def replay_strategy(tape: Tape) -> ReplayStrategy:
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


def replay_run(config: Config, tape: Tape) -> RunResult:
    """Run the ``replay`` config ``config`` under ``tape`` (checked against it when it is a trace's)."""
    if config.strategy != "replay":
        raise ConfigError(f"tape is read only by strategy 'replay', but config.strategy is {config.strategy!r}")
    tape = validate.tape(tape)
    validate_faults(config.faults)
    config.program_function()  # a reference that does not import fails here, before anything runs
    return execute(config, ControlledScheduler(replay_strategy(tape), max_steps=config.max_steps))


def _max_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclasses.dataclass
class RunResult:
    """What one run did and found."""

    config: Config
    violations: list[Violation]
    stats: dict[str, Any]
    #: the run's ``testbed.trace/4`` document: a controlled run's tape, or a free run's recorded order
    trace: dict[str, Any] | None = None
    #: the isolate's event log (pauses, scavenge tasks, deopts, weak-list links), for ``--explain``
    events: list[Event] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def reproduce(self) -> str:
        """The command (or, for a program that cannot be imported, the Python call) that reruns this run.

        Exact for controlled strategies; a ``free`` rerun repeats the workload, not the interleaving
        (its trace, ``"kind": "free"``, pins to an exact one: :func:`testbed.pin`).
        """
        return reproduce_command(self.config)


def execute(config: Config, scheduler: Scheduler) -> RunResult:
    """Run ``config`` (validated, resolved) under ``scheduler``."""
    checker = Checker(config)
    collector = (
        ParallelScavenger(config.scavenger_workers, config.faults) if config.scavenger_workers else SerialScavenger()
    )
    full_collector = (
        MarkCompact(config.concurrent_sweeping, config.faults, config.sweeper_threads)
        if config.mark_compact_every
        else None
    )
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
        old_words_reused=isolate.heap.old_space.free_list.handed_out if isolate.heap.old_space.free_list else 0,
        store_buffer_flushes=sum(m.store_buffer.flushes for m in mutators),
        store_buffer_overflows=sum(m.store_buffer.overflows for m in mutators),
        remset_inserts=isolate.heap.remembered_set.inserts,
        allocations=sum(m.allocations for m in mutators),
        checks=checker.checks,
        checks_by_invariant=checker.evaluations.totals(),
        verify_s=round(checker.verify_s, 4),
        points=scheduler.steps,
        wall_s=round(wall, 4),
        process_peak_rss_mb=_max_rss_mb(),
    )
    result = RunResult(config, list(isolate.violations), stats, events=isolate.events.events)
    if isinstance(scheduler, ControlledScheduler):
        stats.update(decisions=len(scheduler.tape), preemptions=scheduler.preemptions)
        result.trace = _trace(config, scheduler, result.violations, isolate.events.events)
    elif isinstance(scheduler, FreeScheduler):
        result.trace = _free_trace(config, scheduler, result.violations, isolate.events.events)
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


def _violation_json(violations: list[Violation]) -> dict[str, Any] | None:
    first = violations[0] if violations else None
    if first is None:
        return None
    return {"invariant": first.invariant, "step": first.step, "thread": first.thread, "message": first.message}


def _free_trace(
    config: Config, scheduler: FreeScheduler, violations: list[Violation], model_events: list[Event]
) -> dict[str, Any]:
    """A free run's trace (``"kind": "free"``): the order its threads passed points in, to pin or to read."""
    kinds, order = scheduler.recorded_order()
    trace = {
        "schema": TRACE_SCHEMA,
        "testbed_version": __version__,
        "kind": "free",
        "config": config.to_json(),
        "program": config.program_reference,
        "seed": config.seed,
        "strategy": config.strategy,
        #: spawn order: a thread's index here is its number in ``order``
        "threads": scheduler.thread_names(),
        #: the point kinds ``order`` numbers
        "kinds": kinds,
        #: [thread, kind, repeat] runs: the points, in the order the threads passed them
        "order": order,
        "steps": scheduler.steps,
        "model_events": [[e.step, e.thread, e.kind, e.detail] for e in model_events],
        "violation": _violation_json(violations),
    }
    trace["fingerprint"] = fingerprint(trace, config.program_function())
    return trace


def _trace(
    config: Config, scheduler: ControlledScheduler, violations: list[Violation], model_events: list[Event]
) -> dict[str, Any]:
    trace = {
        "schema": TRACE_SCHEMA,
        "testbed_version": __version__,
        "kind": "controlled",
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
        "violation": _violation_json(violations),
    }
    #: what produced the trace: the model's code, the program's source, the header (testbed.fingerprint)
    trace["fingerprint"] = fingerprint(trace, config.program_function())
    return trace
