"""Runs that measure a config before it runs: PCT's horizon, SURW's profile, the portfolio's member.

PCT draws its change points from the first ``pct_horizon`` steps of a run,
SURW weighs each thread by its interesting points, and a calibrated
campaign draws knob ranges from what a scenario does: each measures one
run of the same config that never preempts (deterministic, a function of
the config, so cached per config and recorded nowhere).  ``portfolio``
runs one member of a fixed rotation of strategies per seed.
"""

from __future__ import annotations

import contextlib
from typing import Any

from testbed.execute import execute
from testbed.runtime import Config
from testbed.sched import ControlledScheduler, NoPreemptionStrategy, SURWProfile

__all__ = [
    "PCT_FALLBACK_HORIZON",
    "PORTFOLIO",
    "pct_horizon",
    "portfolio_member",
    "probe_stats",
    "resolved",
    "surw_profile",
]

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
        stats = execute(key, scheduler).stats
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
        execute(key, ControlledScheduler(profiler, max_steps=config.max_steps))
    profile = tuple(profiler.counts)
    if len(_profiles) >= _HORIZON_CACHE:
        _profiles.clear()
    _profiles[key] = profile
    return profile


def resolved(config: Config) -> Config:
    """``config`` as it runs: a portfolio's member strategy chosen, PCT's horizon measured."""
    if config.strategy == "portfolio":
        config = config.replace(strategy=portfolio_member(config.seed))
    if config.strategy == "pct" and config.pct_horizon == 0:
        config = config.replace(pct_horizon=pct_horizon(config))
    return config
