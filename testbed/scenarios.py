"""Named scenarios: workload mixes and heap shapes that aim at one race each.

A scenario is a function from (seed, faults) to a :class:`Config`; users'
own scenarios are just Configs.  ``mixed`` is the default until the full
deopt waltz exists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from testbed.runtime import Config, Mix

__all__ = ["DEFAULT_SCENARIO", "SCENARIOS", "Scenario", "UnknownScenario", "scenario_config"]


class UnknownScenario(ValueError):
    """A scenario name that is not in :data:`SCENARIOS`."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    aims_at: str
    make: Callable[[], Config]


def _mixed() -> Config:
    return Config(scenario="mixed", store_buffer_capacity=16)


def _store_buffer_storm() -> Config:
    # Many old hosts receiving young values, tiny store buffers: every few
    # stores a thread moves its buffer into the remembered set, so flushes of
    # different threads overlap all the time.
    return Config(
        scenario="store-buffer-storm",
        store_buffer_capacity=4,
        ops=1200,
        # LABs smaller than a 32-slot cell, so hosts of different threads
        # share remembered-set cells and small pages give many buckets.
        lab_words=8,
        page_words=256,
        max_fields=3,
        mix=Mix(
            alloc=24,
            alloc_old=10,
            store=6,
            barrier_store=40,
            store_smi=1,
            load=4,
            open_scope=2,
            close_scope=2,
            frame=2,
            set_global=2,
            park=1,
        ),
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "mixed",
            "all mutator operations in a balanced mix, GC on new-space exhaustion",
            "safepoint protocol, scavenge correctness",
            _mixed,
        ),
        Scenario(
            "store-buffer-storm",
            "old-to-young stores dominate; store buffers of 4 entries overflow and flush constantly",
            "store buffers, remembered-set locking",
            _store_buffer_storm,
        ),
    )
}

DEFAULT_SCENARIO = "mixed"


def scenario_config(name: str, **changes: object) -> Config:
    """The scenario's Config with ``changes`` applied (seed, faults, knobs)."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise UnknownScenario(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    return scenario.make().replace(**changes)
