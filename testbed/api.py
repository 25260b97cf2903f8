"""The Python API: run one configuration; replay or shrink a trace.

``run(config)`` builds an isolate with the serial scavenger and the checker,
runs it under the strategy's scheduler and returns a :class:`RunResult`
(:mod:`testbed.execute`); a ``portfolio`` config runs the member its seed
picks and a ``pct`` one measures its horizon first (:mod:`testbed.probes`).
``stress(...)``, many schedules with derived seeds, is the campaign
package's (:mod:`testbed.campaign.driver`).

A replay given a trace's tape is checked decision by decision; one that no
longer follows its tape raises :class:`~testbed.sched.ReplayDivergedError`
rather than return the findings of some other schedule.  ``replay(path)``
and ``shrink(path, out)`` take a trace file; a trace of a custom program
records the program's reference and imports it again, or takes the
function as ``program=`` when it cannot be imported (a closure, a lambda).

``pin(path, budget=..., out=...)`` turns a free run's trace into a
controlled trace that replays its finding exactly (:mod:`testbed.pinning`).

``reproduce_command(config)`` is the ``testbed run`` command line that
builds ``config`` again (:mod:`testbed.reproduce`).
"""

from __future__ import annotations

import os

from testbed import validate
from testbed.execute import RunResult, Tape, execute, replay_strategy
from testbed.faults import validate_faults
from testbed.pinning import DEFAULT_PIN_BUDGET, PinResult, pin_trace
from testbed.probes import (
    PCT_FALLBACK_HORIZON,
    PORTFOLIO,
    pct_horizon,
    portfolio_member,
    resolved,
    surw_profile,
)
from testbed.reproduce import FLAG_FIELDS, config_changes, reproduce_command, settable_fields
from testbed.runtime import Config, ConfigError, Program, derive_seed
from testbed.scenarios import scenario_names
from testbed.sched import (
    ControlledScheduler,
    FreeScheduler,
    PCTStrategy,
    POSStrategy,
    RandomStrategy,
    Scheduler,
    Strategy,
    SURWStrategy,
    write_trace,
)
from testbed.shrink import ReplayResult, ShrinkResult
from testbed.shrink import replay as replay_trace
from testbed.shrink import shrink as shrink_trace

__all__ = [
    "FLAG_FIELDS",
    "PCT_FALLBACK_HORIZON",
    "PORTFOLIO",
    "STRATEGIES",
    "RunResult",
    "Tape",
    "UnknownStrategy",
    "config_changes",
    "pct_horizon",
    "pin",
    "portfolio_member",
    "replay",
    "reproduce_command",
    "run",
    "settable_fields",
    "shrink",
    "surw_profile",
]

#: strategies this version can run; all but ``free`` are controlled (exactly replayable).
#: ``hypothesis`` exists only in ``stress``: Hypothesis draws each schedule's tape
#: and shrinks the first failing one.
STRATEGIES = validate.STRATEGIES

UnknownStrategy = validate.UnknownStrategy


def _scheduler_for(config: Config, tape: Tape | None) -> Scheduler:
    strategy: Strategy
    config = resolved(config)
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
        strategy = replay_strategy(tape)
    else:
        raise UnknownStrategy(f"unknown strategy {config.strategy!r} (available: {', '.join(STRATEGIES)})")
    return ControlledScheduler(strategy, max_steps=config.max_steps)


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
    if config.scenario is not None:
        scenario_names(config.scenario, "scenario")  # Config checks its form, the catalogue its name
    validate_faults(config.faults)
    config.program_function()  # a reference that does not import fails here, before anything runs
    config = resolved(config)  # the result's config (and trace) say which member ran, with which horizon
    return execute(config, _scheduler_for(config, tape))


def _path_argument(path: object, name: str) -> None:
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ConfigError(f"{name} must be a file path, got {path!r}")


def _check_program(program: object) -> None:
    if program is not None and not isinstance(program, str) and not callable(program):
        raise ConfigError(f"program must be a function fn(m), a 'module:function' reference or None, got {program!r}")


def replay(
    path: str | os.PathLike[str], program: Program | None = None, times: int = 1, allow_changed_code: bool = False
) -> ReplayResult:
    """Replay the trace at ``path`` ``times`` times; a :class:`testbed.shrink.ReplayResult`.

    A trace of a custom program names it (``trace["program"]``); it is
    imported again, or, when it cannot be (a closure, a lambda), taken from
    ``program``: pass the same function the trace was recorded with.
    ``result.matches`` counts the replays that found the recorded violation at
    the recorded step.  Raises :class:`~testbed.sched.TraceError` for a file
    that is not a trace, :class:`~testbed.sched.ReplayDivergedError` when a
    replay stops following the tape, :class:`~testbed.traces.CodeChanged` when
    the model's code or the program's source changed since the trace was
    recorded (unless ``allow_changed_code``: then ``result.changed`` says
    what), and :class:`ConfigError` for bad arguments.  ``result.lost`` says
    why a replay came out clean when the trace recorded a violation.
    """
    _path_argument(path, "path")
    _check_program(program)
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ConfigError(f"times must be an integer >= 1, got {times!r}")
    return replay_trace(path, times=times, program=program, allow_changed_code=allow_changed_code)


def shrink(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    program: Program | None = None,
    max_runs: int = 400,
    allow_changed_code: bool = False,
    joint: bool = False,
) -> ShrinkResult:
    """Shrink the trace at ``path`` to a calmer schedule with the same violation; write it to ``out``.

    Returns a :class:`testbed.shrink.ShrinkResult` (``before``/``after``
    measures, ``minimal``, ``trace``; with ``joint`` the workload's knobs
    shrink too, ``knobs`` saying which).  ``program`` and ``allow_changed_code`` as for :func:`replay`.  Raises
    ``ValueError`` when the trace records no violation or does not reproduce
    it, and what :func:`replay` raises.
    """
    _path_argument(path, "path")
    _path_argument(out, "out")
    _check_program(program)
    if not isinstance(max_runs, int) or isinstance(max_runs, bool) or max_runs < 1:
        raise ConfigError(f"max_runs must be an integer >= 1, got {max_runs!r}")
    result = shrink_trace(path, max_runs=max_runs, program=program, allow_changed_code=allow_changed_code, joint=joint)
    write_trace(out, result.trace)
    return result


def pin(
    path: str | os.PathLike[str],
    budget: int = DEFAULT_PIN_BUDGET,
    out: str | os.PathLike[str] | None = None,
    program: Program | None = None,
    allow_changed_code: bool = False,
) -> PinResult:
    """Pin the free trace at ``path``: a controlled trace that reproduces its finding, within ``budget`` schedules.

    Returns a :class:`testbed.pinning.PinResult` (``pinned``, ``trace``,
    ``schedules``, ``how``); with ``out`` a pinned trace is written there.
    ``program`` and ``allow_changed_code`` as for :func:`replay`.  Raises
    :class:`~testbed.sched.TraceError` for a file that is not a free trace
    with a violation, :class:`~testbed.traces.CodeChanged` when the code
    changed since it was recorded, :class:`ConfigError` for bad arguments.
    """
    _path_argument(path, "path")
    if out is not None:
        _path_argument(out, "out")
    _check_program(program)
    validate.integer("budget", budget, 1)
    result = pin_trace(os.fspath(path), budget=budget, program=program, allow_changed_code=allow_changed_code)
    if out is not None and result.trace is not None:
        write_trace(out, result.trace)
    return result
