"""``stress``'s arguments, checked before anything runs: a bad one is a :class:`ConfigError` naming it.

The scenario names, the fault set and the overrides come back normalised;
a custom program that worker processes or cluster workers must import is
turned into its reference here (and refused if it cannot be imported).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from testbed import validate
from testbed.campaign import cluster as campaign_cluster
from testbed.faults import fault_names
from testbed.runtime import Config, ConfigError, Program, program_importable, program_reference
from testbed.scenarios import scenario_names
from testbed.validate import UnknownStrategy

__all__ = ["campaign_options", "campaign_program", "stress_arguments"]

#: the loguru levels ``log_level`` takes (None: worker processes stay silent)
_LOG_LEVELS = (None, "TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


def _scenarios(scenarios: object) -> list[Any]:
    """Scenario names; None is "no scenario" (Config's own defaults, e.g. for a custom program)."""
    if isinstance(scenarios, list | tuple) and None in scenarios:
        if all(item is None for item in scenarios):
            return list(scenarios)
        return [None if item is None else scenario_names(item)[0] for item in scenarios]
    return scenario_names(scenarios)


def _budget(schedules: object, duration: object) -> None:
    if schedules is None and duration is None:
        raise ConfigError("stress needs a number of schedules or a duration, got neither")
    if schedules is not None:
        validate.integer("schedules", schedules, 1)
    if duration is not None:
        validate.number("duration", duration, 0.0, open_low=True)
        if math.isinf(duration):  # type: ignore[arg-type]
            raise ConfigError(f"duration must be finite, got {duration!r}")


def _overrides(overrides: object) -> dict[str, Any]:
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a mapping of config fields to values, got {overrides!r}")
    fields = set(Config.__dataclass_fields__) - {"seed", "strategy", "faults", "scenario"}
    for key in overrides:
        if key not in fields:
            raise ConfigError(f"overrides: unknown config field {key!r}")
    return dict(overrides)


def stress_arguments(
    *,
    scenarios: object,
    seed: object,
    schedules: object,
    duration: object,
    strategy_name: object,
    faults: object,
    overrides: object,
    jobs: object,
    on_result: object,
) -> tuple[list[str | None], frozenset[str], dict[str, Any]]:
    """``stress``'s arguments: the scenario names, the fault set and the overrides, normalised."""
    names = _scenarios(scenarios)
    validate.integer("seed", seed)
    _budget(schedules, duration)
    validate.strategy(strategy_name)
    if strategy_name == "replay":
        raise UnknownStrategy("strategy 'replay' needs a tape: stress draws schedules, replay a trace instead")
    validate.integer("jobs", jobs, 1)
    if strategy_name == "hypothesis" and jobs != 1:
        raise ConfigError(f"strategy 'hypothesis' runs in one process: jobs must be 1, got {jobs!r}")
    fault_set = fault_names(faults)
    changes = _overrides(overrides)
    if on_result is not None and not callable(on_result):
        raise ConfigError(f"on_result must be callable or None, got {on_result!r}")
    return names, fault_set, changes


def campaign_options(
    strategy: str,
    jobs: int,
    calibrate: object,
    monitor: object,
    log_level: object,
    cluster: str | None,
) -> None:
    """``calibrate``, ``monitor``, ``log_level`` and ``cluster`` (its address, and the optional extra)."""
    if not isinstance(calibrate, bool):
        raise ConfigError(f"calibrate must be True or False, got {calibrate!r}")
    if calibrate and strategy == "hypothesis":
        raise ConfigError("calibrate draws each schedule's config; strategy 'hypothesis' draws schedules of fixed ones")
    if monitor is not None and not callable(monitor):
        raise ConfigError(f"monitor must be a function monitor(result) -> reason or None, got {monitor!r}")
    if log_level not in _LOG_LEVELS:
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


def campaign_program(program: Program | None, jobs: int, cluster: str | None) -> Program | None:
    """The custom program as the schedules get it: by reference when other processes import it."""
    if program is not None and (jobs > 1 or cluster is not None) and not isinstance(program, str):
        if not program_importable(program):
            where = "worker processes; use jobs=1" if cluster is None else "cluster workers; run it locally"
            raise ConfigError(f"program {program_reference(program)!r} cannot be imported by {where}")
        return program_reference(program)
    return program
