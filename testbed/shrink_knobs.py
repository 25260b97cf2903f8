"""The workload's knobs that joint shrinking reduces, and the values it tries for each.

A schedule is only half of a reproduction: the other half is the workload
(how many mutators, how many operations each, how many scavenger workers,
which operations the scenario mixes in...).  ``testbed shrink`` reduces
these too, the way C-Reduce or Hypothesis shrink a test case and not only
its random choices, so that the config a user reads is as small as the bug
allows.

Each knob has a floor (a mutator at least, no scavenger workers at all:
the serial scavenger, 0 for the intervals that 0 disables) and is tried at
a few values between the floor and where it stands, smallest first: the
floor, a quarter of the way, half of the way.  A knob switch (concurrent
sweeping, captured arrays, the locker) is tried off, and a weight of the
scenario's operation mix at 0 (that operation is no longer done at all).
A custom program is its own workload: only the knobs the runtime itself
reads are tried (mutators, scavenger workers, intervals, capacities), and
``ops`` (which a program may read).  :mod:`testbed.shrink` keeps a value
only when the run still breaks with the same signature and is a different
run (a knob the workload never reads changes nothing and is not reported).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from testbed.runtime import Config, ConfigError

__all__ = ["knob_candidates", "knob_values"]

#: integer knobs and their floors, in the order they are tried (the biggest simplifications first)
_INTEGERS = (
    ("mutators", 1),
    ("ops", 1),
    ("scavenger_workers", 0),
    ("functions", 1),
    ("mark_compact_every", 0),
    ("deopt_every_n_times", 0),
    ("gc_interval", 0),
    ("store_buffer_capacity", 1),
    ("new_space_pages", 1),
    ("globals_per_mutator", 0),
    ("scope_handles", 1),
    ("max_fields", 1),
)
#: switches tried off (embedded objects before the locker they need)
_SWITCHES = ("concurrent_sweeping", "captured_arrays", "embedded_objects", "locker")
#: what the runtime reads whatever the program: the knobs a custom program's run can reduce
_PROGRAM_KNOBS = frozenset(
    {"mutators", "ops", "scavenger_workers", "mark_compact_every", "gc_interval", "store_buffer_capacity"}
)


def _steps_down(value: int, floor: int) -> list[int]:
    """The floor, a quarter and half of the way up to ``value``: distinct, below it, smallest first."""
    found: list[int] = []
    for candidate in (floor, floor + (value - floor) // 4, floor + (value - floor) // 2):
        if candidate < value and candidate not in found:
            found.append(candidate)
    return found


def knob_values(config: Config) -> dict[str, Any]:
    """Every knob joint shrinking may change, with its value in ``config`` (mix weights as ``mix.NAME``)."""
    values: dict[str, Any] = {name: getattr(config, name) for name, _ in _INTEGERS}
    values.update({name: getattr(config, name) for name in _SWITCHES})
    values.update({f"mix.{name}": weight for name, weight in config.mix.items()})
    return values


def _with(config: Config, knob: str, value: Any) -> Config:
    if knob.startswith("mix."):
        return config.replace(mix=dataclasses.replace(config.mix, **{knob[4:]: value}))
    return config.replace(**{knob: value})


def knob_candidates(config: Config) -> list[tuple[str, list[Config]]]:
    """Per knob, in order, the reduced configs to try (smallest first); knobs already at their floor have none.

    A value the config refuses (a mix of only zeros, embedded objects
    without the locker) is not offered.
    """
    program = config.program is not None
    offered: list[tuple[str, list[Any]]] = [
        (name, _steps_down(getattr(config, name), floor)) for name, floor in _INTEGERS
    ]
    offered += [(name, [False]) for name in _SWITCHES if getattr(config, name)]
    if not program:
        offered += [(f"mix.{name}", [0]) for name, weight in config.mix.items() if weight]
    found: list[tuple[str, list[Config]]] = []
    for knob, values in offered:
        if program and knob not in _PROGRAM_KNOBS:
            continue
        configs = []
        for value in values:
            try:
                configs.append(_with(config, knob, value))
            except ConfigError:
                continue
        if configs:
            found.append((knob, configs))
    return found
