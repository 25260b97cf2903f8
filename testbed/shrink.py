"""Replaying and shrinking traces of controlled runs.

``replay`` re-runs a trace's configuration with its decision tape and says
whether the same invariant broke at the same step; the replay is checked
decision by decision and raises :class:`~testbed.sched.ReplayDivergedError`
when it stops following the tape.  ``shrink`` looks for a
shorter, calmer tape that still breaks the same invariant: first the
shortest prefix that does (past a tape's end every decision is "keep
running", so cutting the tape removes every later preemption), then
delta-debugging over the remaining preemptions (Zeller's ddmin, zeroing
chunks of decisions and halving the chunk size when nothing can go).
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
from testbed.execute import RunResult, replay_run
from testbed.runtime import Config, ConfigError, Program
from testbed.sched import ReplayDivergedError, TraceError, decode_tape
from testbed.traces import CodeChanged, code_changes, load_trace, validate_trace

__all__ = ["ReplayResult", "ShrinkResult", "replay", "shrink"]


def _config_of(trace: dict[str, Any], program: Program | None = None) -> Config:
    """The trace's config as a replay; its program imported again, or ``program`` in its place."""
    config = Config.from_json(trace["config"]).replace(strategy="replay")
    if program is not None:
        if config.program is None:
            raise ConfigError("program: the trace ran the standard program, it takes no program=")
        return config.replace(program=program)
    config.program_function()  # ConfigError naming the reference when it does not import
    return config


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
    config = _config_of(trace, program)
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


def _trimmed(tape: list[int]) -> list[int]:
    """The tape without trailing zeros (past its end every decision reads as 0)."""
    end = len(tape)
    while end and tape[end - 1] == 0:
        end -= 1
    return tape[:end]


def _decisions(result: RunResult) -> list[int]:
    assert result.trace is not None
    return decode_tape(result.trace["tape"])[0]


def _measure(result: RunResult) -> dict[str, int]:
    assert result.trace is not None
    decisions = _decisions(result)
    return {
        "tape_length": len(_trimmed(decisions)),
        "preemptions": result.trace["preemptions"],
        "nonzero_decisions": sum(1 for d in decisions if d),
        "steps": result.trace["steps"],
    }


def shrink(
    trace: dict[str, Any] | str | Path,
    max_runs: int = 400,
    on_progress: Callable[[int, dict[str, int]], None] | None = None,
    program: Program | None = None,
    allow_changed_code: bool = False,
) -> ShrinkResult:
    """A shorter tape that still breaks the trace's invariant (``program``, ``allow_changed_code`` as for :func:`replay`).

    Raises ValueError when the trace does not reproduce its violation at all.
    """
    trace = _checked(trace)
    validate.integer("max_runs", max_runs, 1)
    if trace["violation"] is None:
        raise ValueError("the trace records no violation; there is nothing to shrink towards")
    target = trace["violation"]["invariant"]
    config = _config_of(trace, program)
    _unchanged(trace, config, allow_changed_code)
    runs = 0

    def attempt(tape: list[int] | list[list[int]]) -> RunResult | None:
        nonlocal runs
        runs += 1
        result = replay_run(config, tape)
        found = _first(result)
        return result if found is not None and found[0] == target else None

    best = attempt(trace["tape"])  # checked: ReplayDivergedError if the trace no longer replays
    if best is None:
        raise ValueError(f"the trace does not reproduce {target}; cannot shrink it")
    before = _measure(best)

    def tape_of(result: RunResult) -> list[int]:
        return _trimmed(_decisions(result))

    current = tape_of(best)
    # 1. The shortest prefix that still fails (bisection; not monotone, so a heuristic).
    low, high = 0, len(current)
    while low < high and runs < max_runs:
        middle = (low + high) // 2
        result = attempt(current[:middle])
        if result is not None:
            best, high = result, middle
            current = tape_of(result)
            high = min(high, len(current))
        else:
            low = middle + 1
        if on_progress:
            on_progress(runs, _measure(best))
    # 2. ddmin over the preemptions that are left.
    chunk = max(1, sum(1 for d in current if d) // 2)
    while runs < max_runs:
        positions = [i for i, d in enumerate(current) if d]
        if not positions:
            break
        progressed = False
        for start in range(0, len(positions), chunk):
            if runs >= max_runs:
                break
            candidate = list(current)
            for i in positions[start : start + chunk]:
                candidate[i] = 0
            result = attempt(candidate)
            if result is not None:
                best, current, progressed = result, tape_of(result), True
                if on_progress:
                    on_progress(runs, _measure(best))
                break
        if not progressed:
            if chunk == 1:
                break
            chunk = max(1, chunk // 2)
    assert best.trace is not None
    # The run's own tape, trailing zeros included: each decision's expectation is checked on replay.
    return ShrinkResult(target, before, _measure(best), runs, best.trace)
