"""Pinning: a free run's finding turned into an exact controlled schedule.

A free run reproduces its workload (same config, same seed) but not its
interleaving; its trace (``"kind": "free"``) records the order in which
its threads passed their scheduling points.  :func:`pin_trace` runs the
same config and seed under a controlled scheduler that follows that order
(:class:`~testbed.sched.FollowStrategy`), and, when following alone does
not reproduce the finding, a bounded deterministic search around it:

* schedule 1 follows the recorded order;
* odd schedules follow it with the recorded times perturbed by seeded
  Gaussian noise of growing width (1, 2, 4 ... 128 points): a random walk
  around the recorded order;
* even schedules follow it for a prefix (90%, 75%, 50%, 25% of the steps
  up to the violation) and sample partial orders from there
  (:class:`~testbed.sched.POSStrategy`).

Seeds come from the config's seed and the finding's signature, so pinning
the same finding twice gives the same schedules, here, in a worker process
or on a cluster.  A schedule *pins* the finding when a violation of it
has the same bucket signature's invariant, violating operation and thread
roles (:mod:`testbed.campaign.buckets`; any of its violations, as a run's
second violation has its own bucket); its recorded tape is then replayed
once, checked, and must find the same invariant at the same step.  The
result is an ordinary controlled trace (``strategy`` ``replay``; a
``pinned`` field says where it came from) that ``testbed replay`` runs.

The wall-time cap (``max_seconds``) is a safety net only: the schedules
tried are the budget's, the cap only cuts them short, and the result says
so (``cut``).

Mirrors no V8 mechanism: it closes the gap between a free run (which
finds) and a controlled one (which reproduces), as rr's record/replay
does for one serialized process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from testbed import validate
from testbed.campaign.buckets import signature_of
from testbed.execute import RunResult, execute, replay_run
from testbed.runtime import Config, Event, Program
from testbed.sched import ControlledScheduler, FollowStrategy, POSStrategy, Strategy, TraceError, derive_seed
from testbed.traces import CodeChanged, code_changes, load_trace, replay_config, validate_trace

__all__ = ["DEFAULT_PIN_BUDGET", "PinResult", "Target", "pin_trace", "target_of"]

#: schedules a campaign spends on pinning each bucket (``--pin-budget``)
DEFAULT_PIN_BUDGET = 50
#: the prefixes (fractions of the violation's step) followed before partial-order sampling
_PREFIXES = (0.9, 0.75, 0.5, 0.25)

#: what a pinned schedule must break: invariant, violating operation, thread roles
Target = tuple[str, str, tuple[str, ...]]


@dataclasses.dataclass
class PinResult:
    """What pinning a free finding did."""

    #: the signature a schedule had to reproduce
    target: Target
    #: the controlled trace that reproduces it (None: not pinned)
    trace: dict[str, Any] | None
    #: schedules run (each a whole run of the config; the verifying replay not counted)
    schedules: int
    seconds: float
    #: how the pinning schedule was drawn (``follow``, ``follow, jitter 4``, ``follow 75%, then pos``)
    how: str | None = None
    #: whether the wall-time cap stopped the search before its budget
    cut: bool = False

    @property
    def pinned(self) -> bool:
        return self.trace is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "pinned": self.pinned,
            "schedules": self.schedules,
            "seconds": round(self.seconds, 3),
            "how": self.how,
            "cut": self.cut,
        }


class _Stackless:
    """A violation read from a trace (no stacks: a file keeps none)."""

    def __init__(self, violation: dict[str, Any]) -> None:
        self.invariant = violation["invariant"]
        self.message = violation.get("message", "")
        self.step = violation["step"]
        self.thread = violation.get("thread") or ""
        self.stacks: dict[str, list[str]] = {}


def _target(violation: Any, events: Sequence[Any], stacks: bool) -> Target:
    signature = signature_of(violation if stacks else _Stackless(violation.to_json()), events)
    return signature.invariant, signature.operation, signature.roles


def target_of(trace: dict[str, Any]) -> Target:
    """The signature a pin of ``trace`` must reproduce, from its violation and model events (no stacks)."""
    violation = trace["violation"]
    events = [Event(step, thread, kind, detail) for step, thread, kind, detail in trace.get("model_events", [])]
    signature = signature_of(_Stackless(violation), events)
    return signature.invariant, signature.operation, signature.roles


def _attempt(trace: dict[str, Any], number: int, seed: int) -> tuple[Strategy, str]:
    """The strategy of pin schedule ``number`` (0-based) and how to say it."""
    threads, kinds, order = trace["threads"], trace["kinds"], trace["order"]
    drawn = derive_seed(seed, 9, number)
    if number == 0:
        return FollowStrategy(threads, kinds, order), "follow"
    if number % 2:
        width = float(2 ** ((number // 2) % 8))
        return FollowStrategy(threads, kinds, order, drawn, jitter=width), f"follow, jitter {width:g}"
    fraction = _PREFIXES[(number // 2 - 1) % len(_PREFIXES)]
    until = int(trace["violation"]["step"] * fraction)
    follow = FollowStrategy(threads, kinds, order, follow_until=until, fallback=POSStrategy(drawn))
    return follow, f"follow {fraction:.0%}, then pos"


def _matches(result: RunResult, target: Target, stacks: bool) -> bool:
    """Whether one of the run's violations has the target signature (a campaign's bucket may hold a run's
    second violation; the trace and its replay start from the first, which the run finds before it)."""
    return any(_target(violation, result.events, stacks) == target for violation in result.violations)


def _verified(config: Config, result: RunResult) -> bool:
    """Whether the candidate's own tape, replayed checked, finds the same invariant at the same step."""
    assert result.trace is not None
    try:
        again = replay_run(config, result.trace["tape"])
    except (TraceError, RuntimeError):
        return False
    first, then = result.violations[0], again.violations[0] if again.violations else None
    return then is not None and (then.invariant, then.step) == (first.invariant, first.step)


def pin_trace(
    trace: dict[str, Any] | str | os.PathLike[str],
    budget: int = DEFAULT_PIN_BUDGET,
    program: Program | None = None,
    max_seconds: float | None = None,
    target: Target | None = None,
    allow_changed_code: bool = False,
    stop: Callable[[], bool] | None = None,
) -> PinResult:
    """Pin a free trace's finding within ``budget`` schedules (see the module docstring).

    ``trace`` is a free trace (a document or a path).  ``target`` is the
    signature to reproduce (a campaign passes its bucket's, stacks
    included); by default it is read from the trace.  ``max_seconds`` and
    ``stop()`` (asked between schedules) cut the search short.  Raises
    :class:`~testbed.sched.TraceError` for a file that is not a free trace
    with a violation, :class:`~testbed.traces.CodeChanged` when the model or
    the program changed since it was recorded (unless
    ``allow_changed_code``), :class:`ConfigError` for bad arguments.
    """
    document = validate_trace(trace, free=True) if isinstance(trace, dict) else load_trace(trace, free=True)
    validate.integer("budget", budget, 1)
    if document.get("kind") != "free":
        raise TraceError("only a free trace is pinned (this one is controlled: `testbed replay` it)")
    if document["violation"] is None:
        raise TraceError("the free trace records no violation: there is nothing to pin")
    config = replay_config(document, program)
    changes = code_changes(document, config.program_function())
    if changes and not allow_changed_code:
        raise CodeChanged(
            f"{' and '.join(changes)} changed since the trace was recorded, so pinning it would not reproduce it"
        )
    stacks = target is not None
    wanted = target if target is not None else target_of(document)
    # The search's seeds: from the workload's seed and the signature (never from the clock or a process).
    seed = derive_seed(document["seed"], int(hashlib.sha256(repr(wanted).encode()).hexdigest()[:8], 16))
    # A schedule that passed the recorded violation's step far behind is not going to pin it: stopped
    # there (a step limit, reported as a liveness finding, so never for a liveness target).
    limit = config.max_steps
    if wanted[0] != "safepoint-liveness":
        limit = min(limit, 2 * max(document["violation"]["step"], document.get("steps", 0)) + 1000)
    started = time.monotonic()
    for number in range(budget):
        late = max_seconds is not None and time.monotonic() - started > max_seconds
        if number and (late or (stop is not None and stop())):
            return PinResult(wanted, None, number, time.monotonic() - started, cut=True)
        strategy, how = _attempt(document, number, seed)
        try:
            result = execute(config, ControlledScheduler(strategy, max_steps=limit))
        except RuntimeError:  # a step limit: this schedule is no run to keep
            continue
        if _matches(result, wanted, stacks) and _verified(config, result):
            assert result.trace is not None
            result.trace["pinned"] = {"from": "free", "schedules": number + 1, "how": how}
            return PinResult(wanted, result.trace, number + 1, time.monotonic() - started, how)
    return PinResult(wanted, None, budget, time.monotonic() - started)
