"""Replaying and shrinking traces of controlled runs.

``replay`` re-runs a trace's configuration with its decision tape and says
whether the same invariant broke at the same step; the replay is checked
decision by decision and raises :class:`~testbed.sched.ReplayDivergedError`
when it stops following the tape.  ``shrink`` looks for a calmer tape
that still breaks *the same way*: the same bucket signature (invariant,
violating operation, thread roles; :mod:`testbed.campaign.buckets`), not
only the same invariant, so a shrink does not wander off to another bug.
The tape is minimized by :func:`testbed.sched.minimize_tape` (shortest
prefix, then ddmin over the preemptions, in passes repeated until one
changes nothing): the result is 1-minimal, so shrinking it again changes
nothing.  With ``joint`` the workload shrinks too (:mod:`testbed.shrink_knobs`):
a knob's reduction is kept when the current tape, replayed unchecked
under the reduced config, still breaks the same way (the tape is not
searched again for each knob: the next minimization starts from the run
the reduced config made), and tape and knobs alternate until neither moves.
Every candidate is a real run, so the result reproduces by construction.
The trace's own tape is replayed checked first (a trace that diverges
cannot be shrunk); candidates are edited decision lists, which no
recorded run matches, so they run unchecked, and the trace written for
the result is the best candidate run's own recorded (checked) tape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed import validate
from testbed.campaign.buckets import signature_of
from testbed.execute import RunResult, replay_run
from testbed.runtime import Config, ConfigError, Program
from testbed.sched import ReplayDivergedError, TraceError, decode_tape, minimize_tape, trim_tape
from testbed.shrink_knobs import knob_candidates, knob_values
from testbed.traces import CodeChanged, code_changes, load_trace, replay_config, validate_trace

__all__ = ["ReplayResult", "ShrinkResult", "replay", "shrink"]


def _first(result: RunResult) -> tuple[str, int] | None:
    if not result.violations:
        return None
    return result.violations[0].invariant, result.violations[0].step


@dataclasses.dataclass
class ReplayResult:
    trace: dict[str, Any]
    results: list[RunResult]
    #: what changed since the trace was recorded (replayed with ``allow_changed_code``); empty: nothing
    changed: list[str] = dataclasses.field(default_factory=list)

    @property
    def expected(self) -> tuple[str, int] | None:
        violation = self.trace["violation"]
        return None if violation is None else (violation["invariant"], violation["step"])

    @property
    def matches(self) -> int:
        """Replays that reported the recorded invariant at the recorded step (or, none, nothing)."""
        return sum(1 for r in self.results if _first(r) == self.expected)

    @property
    def lost(self) -> str | None:
        """Why the recorded violation did not recur in some replay that came out clean (None: no such replay)."""
        violation = self.trace["violation"]
        clean = sum(1 for r in self.results if not r.violations)
        if violation is None or not clean:
            return None
        what = f"the recorded {violation['invariant']} at step {violation['step']} did not recur in {clean}/{len(self.results)} replays"
        return f"{what}: {_cause(self.changed)}"


def _cause(changed: list[str]) -> str:
    """Why a replay of an unedited trace did not follow it.

    A controlled replay is deterministic: with the model, the program and
    the trace unchanged, a replay that leaves its tape or comes out clean
    means the workload itself is not (it reads time, global randomness or
    outside state).
    """
    if changed:
        return f"{' and '.join(changed)} changed since the trace was recorded"
    return (
        "the model's code, the program and the trace are the ones that recorded it, so the workload is "
        "nondeterministic (it reads time, global randomness or outside state)"
    )


def _checked(trace: dict[str, Any] | str | Path) -> dict[str, Any]:
    """A trace document, read from a path or given whole; validated either way, before anything runs."""
    if isinstance(trace, dict):
        return validate_trace(trace)
    return load_trace(trace)


def _unchanged(trace: dict[str, Any], config: Config, allow_changed_code: bool) -> list[str]:
    """What changed since the trace was recorded; :class:`CodeChanged` unless that is allowed."""
    validate.boolean("allow_changed_code", allow_changed_code)
    changes = code_changes(trace, config.program_function())
    if changes and not allow_changed_code:
        raise CodeChanged(
            f"{' and '.join(changes)} changed since the trace was recorded, so a replay would not reproduce it "
            "(allow_changed_code / --allow-changed-code replays it anyway)"
        )
    return changes


def _same_threads(trace: dict[str, Any], result: RunResult) -> RunResult:
    """``result``, whose run registered the trace's threads in the trace's order (else a TraceError)."""
    assert result.trace is not None
    if result.trace["threads"] != trace["threads"]:
        raise TraceError(
            f"the replay ran threads {', '.join(result.trace['threads'])}, "
            f"the trace records {', '.join(trace['threads'])}"
        )
    return result


def replay(
    trace: dict[str, Any] | str | Path,
    times: int = 1,
    program: Program | None = None,
    allow_changed_code: bool = False,
) -> ReplayResult:
    """Re-run a trace ``times`` times with its tape, checked (ReplayDivergedError if it diverges).

    A custom program is imported from the trace's reference, or is ``program``
    (for one that cannot be imported: the function the trace was recorded with).
    The trace's fingerprint must match the model's code and the program's
    source as installed (:class:`~testbed.traces.CodeChanged` otherwise),
    unless ``allow_changed_code``: then the result's ``changed`` says what
    differs.  A replay whose run has other threads than the trace records
    raises :class:`~testbed.sched.TraceError`.
    """
    trace = _checked(trace)
    validate.integer("times", times, 1)
    config = replay_config(trace, program)
    changed = _unchanged(trace, config, allow_changed_code)
    return ReplayResult(trace, [_replayed(trace, config, changed) for _ in range(times)], changed)


def _replayed(trace: dict[str, Any], config: Config, changed: list[str]) -> RunResult:
    """One checked replay of ``trace``; a divergence says its cause."""
    try:
        return _same_threads(trace, replay_run(config, trace["tape"]))
    except ReplayDivergedError as error:
        raise ReplayDivergedError(
            f"{error}; {_cause(changed)}", error.step, error.entry, error.expected, error.found
        ) from None


@dataclasses.dataclass
class ShrinkResult:
    invariant: str
    before: dict[str, int]
    after: dict[str, int]
    runs: int
    trace: dict[str, Any]
    #: the bucket signature kept throughout (invariant, operation, roles)
    signature: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: whether the tape is 1-minimal under the result's config (no single nonzero decision left can go)
    minimal: bool = False
    #: whether the whole search reached its fixed point (tape and, joint, knobs): shrinking the
    #: result again (the same way) changes nothing; False when ``max_runs`` ran out first
    converged: bool = False
    #: the knobs joint shrinking changed: name -> [before, after]
    knobs: dict[str, list[Any]] = dataclasses.field(default_factory=dict)


def _decisions(result: RunResult) -> list[int]:
    assert result.trace is not None
    return decode_tape(result.trace["tape"])[0]


def _measure(result: RunResult) -> dict[str, int]:
    assert result.trace is not None
    decisions = _decisions(result)
    return {
        "tape_length": len(trim_tape(decisions)),
        "preemptions": result.trace["preemptions"],
        "nonzero_decisions": sum(1 for d in decisions if d),
        "steps": result.trace["steps"],
    }


def _signature(result: RunResult) -> tuple[str, str, tuple[str, ...]] | None:
    """The run's bucket signature as shrinking keeps it: invariant, violating operation, thread roles."""
    if not result.violations:
        return None
    found = signature_of(result.violations[0], result.events)
    return found.invariant, found.operation, found.roles


class _Shrinking:
    """One shrink: the config and best run so far, the runs spent, the signature to keep."""

    def __init__(self, config: Config, max_runs: int, on_progress: Callable[[int, dict[str, int]], None] | None):
        self.config = config
        self.max_runs = max_runs
        self.on_progress = on_progress
        self.runs = 0
        self.best: RunResult | None = None
        self.target: tuple[str, str, tuple[str, ...]] | None = None

    def run(self, config: Config, tape: list[int] | list[list[int]]) -> RunResult | None:
        """Run ``tape`` under ``config``; the result when it breaks with the target signature."""
        self.runs += 1
        try:
            result = replay_run(config, tape)
        except ConfigError:  # a reduced config the run refuses (checked only when it runs)
            return None
        if self.on_progress is not None and self.best is not None:
            self.on_progress(self.runs, _measure(self.best))
        return result if _signature(result) == self.target else None

    def attempt(self, candidate: list[int]) -> list[int] | None:
        """``minimize_tape``'s predicate: the run's own decisions when the signature held."""
        result = self.run(self.config, candidate)
        if result is None:
            return None
        self.best = result
        return _decisions(result)

    def tape(self) -> list[int]:
        assert self.best is not None
        return trim_tape(_decisions(self.best))

    def minimize(self) -> bool:
        """The tape to a fixed point within the runs left; whether it got there."""
        minimized = minimize_tape(self.tape(), self.attempt, self.max_runs - self.runs)
        return minimized.fixed_point

    def reduce_knobs(self) -> tuple[bool, bool]:
        """One pass over the knobs, keeping each reduction under which the current tape still breaks
        the same way and the run changes: whether any was kept, and whether every knob was tried."""
        assert self.best is not None and self.best.trace is not None
        changed = False
        for _knob, configs in knob_candidates(self.config):
            for config in configs:
                if self.runs >= self.max_runs:
                    return changed, False
                tape = self.tape()
                result = self.run(config, tape)
                if result is None or result.trace is None:
                    continue
                same = (
                    result.trace["steps"] == self.best.trace["steps"]
                    and result.trace["tape"] == self.best.trace["tape"]
                    and len(result.events) == len(self.best.events)
                )
                if same:  # the workload does not read this knob: leave it as it was
                    break
                self.config, self.best, changed = config, result, True
                break
        return changed, True


def shrink(
    trace: dict[str, Any] | str | Path,
    max_runs: int = 400,
    on_progress: Callable[[int, dict[str, int]], None] | None = None,
    program: Program | None = None,
    allow_changed_code: bool = False,
    joint: bool = False,
) -> ShrinkResult:
    """A calmer tape (and, ``joint``, a smaller workload) that still breaks the same way.

    "The same way" is the bucket signature of the trace's violation
    (invariant, violating operation, thread roles).  The tape is minimized
    to a fixed point (1-minimal: no single nonzero decision left can go)
    within ``max_runs`` runs; with ``joint``, the workload's knobs
    (:mod:`testbed.shrink_knobs`) are reduced too, each kept only when the
    current tape, replayed unchecked under the reduced config (each decision
    taken modulo the runnable threads, as far as it applies), still breaks
    the same way; the tape is then minimized again, until neither moves.
    ``program``, ``allow_changed_code`` as for :func:`replay`.  Raises
    ValueError when the trace does not reproduce its violation at all.
    """
    trace = _checked(trace)
    validate.integer("max_runs", max_runs, 1)
    validate.boolean("joint", joint)
    if trace["violation"] is None:
        raise ValueError("the trace records no violation; there is nothing to shrink towards")
    target = trace["violation"]["invariant"]
    config = replay_config(trace, program)
    _unchanged(trace, config, allow_changed_code)
    search = _Shrinking(config, max_runs, on_progress)
    search.runs += 1
    first = replay_run(config, trace["tape"])  # checked: ReplayDivergedError if the trace no longer replays
    found = _first(first)
    if found is None or found[0] != target:
        raise ValueError(f"the trace does not reproduce {target}; cannot shrink it")
    search.best, search.target = first, _signature(first)
    before, knobs_before = _measure(first), knob_values(config)
    minimal = converged = search.minimize()
    while joint and minimal:
        changed, converged = search.reduce_knobs()
        if not changed:
            break
        minimal = converged = search.minimize()
    best = search.best
    assert best.trace is not None and search.target is not None
    after = knob_values(search.config)
    knobs = {name: [value, after[name]] for name, value in knobs_before.items() if after[name] != value}
    invariant, operation, roles = search.target
    signature = {"invariant": invariant, "operation": operation, "roles": list(roles)}
    # The run's own tape, trailing zeros included: each decision's expectation is checked on replay.
    return ShrinkResult(target, before, _measure(best), search.runs, best.trace, signature, minimal, converged, knobs)
