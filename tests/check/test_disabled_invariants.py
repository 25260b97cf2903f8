"""``Config.disabled_invariants``: checks still evaluated, their violations not reported (the ablation's switch)."""

from __future__ import annotations

import pytest

import testbed
from testbed.check import Checker
from testbed.runtime import Config, ConfigError


def _early_scavenge(seed: int, disabled: frozenset[str] = frozenset()) -> testbed.RunResult:
    config = testbed.scenario_config(
        "mixed", seed=seed, strategy="pos", faults={"early-scavenge"}, disabled_invariants=disabled
    )
    return testbed.run(config)


@pytest.mark.timeout(60)
def test_a_disabled_invariant_is_evaluated_but_never_reported() -> None:
    first = _early_scavenge(1)
    assert first.violations, "early-scavenge on mixed, pos seed 1, was expected to be caught"
    invariant = first.violations[0].invariant
    ablated = _early_scavenge(1, frozenset({invariant}))
    assert all(v.invariant != invariant for v in ablated.violations)
    assert ablated.stats["checks_by_invariant"][invariant] > 0


def test_disabled_invariants_round_trip_through_json() -> None:
    config = Config(disabled_invariants={"world-stopped", "store-buffers-flushed"})
    assert config.disabled_invariants == frozenset({"world-stopped", "store-buffers-flushed"})
    data = config.to_json()
    assert data["disabled_invariants"] == ["store-buffers-flushed", "world-stopped"]
    assert Config.from_json(data) == config


@pytest.mark.parametrize("value", ["world-stopped", 3, [1]])
def test_disabled_invariants_must_be_a_collection_of_names(value: object) -> None:
    with pytest.raises(ConfigError, match="disabled_invariants"):
        Config(disabled_invariants=value)  # type: ignore[arg-type]


def test_the_checker_refuses_an_unknown_invariant() -> None:
    with pytest.raises(ConfigError, match="unknown invariant 'no-such-check'"):
        Checker(Config(disabled_invariants={"no-such-check"}))
