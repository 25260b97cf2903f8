"""Shared fixtures for the fast test suite."""

from __future__ import annotations

import pytest

import testbed
from testbed.runtime import Config


@pytest.fixture
def small_config() -> Config:
    """A quick run: 4 mutators, few operations, a scavenge every few allocations."""
    return testbed.scenario_config("mixed", ops=300, gc_interval=40)
