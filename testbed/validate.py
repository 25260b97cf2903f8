"""One validation layer for every public entry point: the generic checks.

``Config(...)``, ``run``, ``stress``, the CLI and the pytest plugin check
their arguments here, so a bad value gets the same answer wherever it comes
in: a :class:`ConfigError` naming the field and the value (the CLI turns it
into one line and exit status 2, the plugin into a ``pytest.UsageError``).
Nothing runs before every argument has passed.

The checks return the value normalised (a fault list becomes a frozenset,
one scenario name a list of one).  This module imports nothing from the
rest of the package, so every layer can use it; the checks that need a
catalogue live with it (:func:`testbed.faults.fault_names`,
:func:`testbed.scenarios.scenario_names`, ``stress``'s arguments in
:mod:`testbed.campaign.arguments`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "STRATEGIES",
    "ConfigError",
    "UnknownStrategy",
    "boolean",
    "integer",
    "invariant_names",
    "name",
    "name_list",
    "number",
    "plugin_options",
    "program",
    "strategy",
    "tape",
]

#: strategies this version can run; all but ``free`` are controlled (exactly replayable).
#: ``replay`` needs a tape; ``hypothesis`` exists only in ``stress``; ``portfolio``
#: runs one of a fixed rotation of controlled strategies per schedule (``testbed.probes.PORTFOLIO``).
STRATEGIES = ("free", "random", "pct", "pos", "surw", "portfolio", "replay", "hypothesis")


class ConfigError(ValueError):
    """A configuration value or argument is out of range or of the wrong kind."""


class UnknownStrategy(ConfigError):
    """A strategy name this version cannot run (or not in this place)."""


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(field: str, value: object, minimum: int = 0, maximum: int | None = None) -> int:
    """An int (not a bool) in ``[minimum, maximum]``."""
    if not _is_int(value) or value < minimum:  # type: ignore[operator]
        raise ConfigError(f"{field} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:  # type: ignore[operator]
        raise ConfigError(f"{field} must be at most {maximum}, got {value!r}")
    assert isinstance(value, int)
    return value


def number(field: str, value: object, low: float, high: float | None = None, *, open_low: bool = False) -> float:
    """A finite int or float (not a bool) above ``low`` (or at it) and at most ``high``."""
    ok = (_is_int(value) or isinstance(value, float)) and not (isinstance(value, float) and math.isnan(value))
    if ok:
        assert isinstance(value, int | float)
        ok = (value > low if open_low else value >= low) and (high is None or value <= high)
    if not ok:
        bound = f"> {low:g}" if open_low else f">= {low:g}"
        limit = f" and <= {high:g}" if high is not None else ""
        raise ConfigError(f"{field} must be a number {bound}{limit}, got {value!r}")
    assert isinstance(value, int | float)
    return value


def boolean(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{field} must be true or false, got {value!r}")
    return value


def name(field: str, value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{field} must be a non-empty string, got {value!r}")
    return value


def name_list(field: str, value: object, what: str) -> list[str]:
    """An iterable of strings that is not itself a string."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ConfigError(f"{field} must be a collection of {what} names, got {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"{field} must be a collection of {what} names, got {item!r} in {value!r}")
    return items


def invariant_names(value: object, field: str = "invariants") -> frozenset[str]:
    """Invariant names (any iterable of strings) as a frozenset.

    Only their form is checked here: the catalogue belongs to the checker,
    which refuses a name it does not know when a run starts.
    """
    return frozenset(name_list(field, value, "invariant"))


def strategy(value: object, field: str = "strategy") -> str:
    if not isinstance(value, str) or value not in STRATEGIES:
        raise UnknownStrategy(f"unknown {field} {value!r} (available: {', '.join(STRATEGIES)})")
    return value


def program(value: object) -> Callable[..., None] | None:
    """A custom workload ``fn(m: Mutator)`` or None (the standard program)."""
    if value is None or callable(value):
        return value  # type: ignore[return-value]
    if isinstance(value, str) and ":" in value:
        raise ConfigError(
            f"program {value!r} is a reference: Config takes the function itself (fn(m: Mutator)) or None"
        )
    raise ConfigError(f"program must be a function fn(m: Mutator) or None, got {value!r}")


def tape(value: object, field: str = "tape") -> list[Any]:
    """A list or tuple: decisions (non-negative integers) or a trace's runs (checked by ``run``)."""
    if not isinstance(value, list | tuple):
        raise ConfigError(
            f"{field} must be a list of decisions (non-negative integers) or a trace's tape "
            f"([decision, runnable, thread, repeat] runs), got {value!r}"
        )
    return list(value)


def plugin_options(seed: object, strategy_name: object, schedules: object) -> None:
    """The pytest plugin's ``--testbed-seed``, ``--testbed-strategy``, ``--testbed-schedules``."""
    integer("--testbed-seed", seed)
    strategy(strategy_name, "--testbed-strategy")
    if strategy_name in ("replay", "hypothesis"):
        raise UnknownStrategy(
            f"--testbed-strategy {strategy_name!r} cannot run a test's schedules (use free, random, pct, pos, surw or portfolio)"
        )
    integer("--testbed-schedules", schedules, 1)
