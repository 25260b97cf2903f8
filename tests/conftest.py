"""Shared fixtures for the fast test suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import testbed
from testbed.check import Checker
from testbed.gc import SerialScavenger
from testbed.runtime import Collector, Config, Isolate, Observer
from testbed.sched import FreeScheduler, running


@pytest.fixture
def small_config() -> Config:
    """A quick run: 4 mutators, few operations, a scavenge every few allocations."""
    return testbed.scenario_config("mixed", ops=300, gc_interval=40)


RunIsolate = Callable[..., Isolate]


def run_isolate_with(
    config: Config,
    collector: Collector | None = None,
    observer: Observer | None = None,
    seed: int = 0,
) -> Isolate:
    """Run ``config`` on an isolate under a free scheduler; return the isolate after the run.

    Unlike ``testbed.run`` this lets a test choose the collector and the observer
    (default: the serial scavenger and a full checker).
    """
    isolate = Isolate(
        config,
        collector if collector is not None else SerialScavenger(),
        observer if observer is not None else Checker(config),
    )
    scheduler = FreeScheduler(seed, config.yield_probability, config.switch_interval, config.wait_timeout)
    with running(scheduler):
        isolate.run()
    return isolate


@pytest.fixture
def run_isolate() -> RunIsolate:
    return run_isolate_with
