"""Reproduce commands reproduce (issue 9 item 2): parsing the ``testbed run``
command that ``reproduce_command(config)`` prints gives back ``config``, for
configs that vary every field a user can set (scenario or none, program
reference or none, seed, strategy, faults, every knob, every mix weight,
floats of any size, ``switch_interval=None``).
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import testbed
from testbed import FAULTS, SCENARIOS, Config, Mix
from testbed.cli import config_from_command

#: strategies a `testbed run` command line can name
RUN_STRATEGIES = ("free", "random", "pct")

COUNTS = st.integers(0, 10**6)


def _knobs(lab_words: int) -> dict[str, st.SearchStrategy[Any]]:
    """A strategy per Config knob, within the values Config accepts."""
    probability = st.floats(0.0, 1.0)
    positive = st.floats(min_value=0.0, exclude_min=True, allow_nan=False)
    return {
        "mutators": st.integers(1, 256),
        "scavenger_workers": st.integers(0, 16),
        "functions": st.integers(1, 10**6),
        "optimize_after": st.integers(1, 10**6),
        "deopt_every_n_times": COUNTS,
        "mark_compact_every": COUNTS,
        "concurrent_sweeping": st.booleans(),
        "ops": COUNTS,
        "new_space_pages": st.integers(1, 10**6),
        "store_buffer_capacity": st.integers(1, 10**6),
        "gc_interval": COUNTS,
        "max_fields": st.integers(1, lab_words - 1),
        "scope_handles": st.integers(2, 10**6),
        "globals_per_mutator": COUNTS,
        "switch_probability": probability,
        "pct_depth": st.integers(1, 10**6),
        "pct_horizon": COUNTS,
        "max_steps": st.integers(1, 10**9),
        "yield_probability": probability,
        "switch_interval": st.none() | positive,
        "wait_timeout": positive,
        "run_timeout": positive,
        "timeout_cap": st.floats(min_value=1.0, allow_nan=False),
    }


@st.composite
def any_configs(draw: st.DrawFn) -> Config:
    """A Config as a user may build one: a scenario (or none) with any knob changed, or not."""
    scenario = draw(st.sampled_from([None, *SCENARIOS]))
    base = testbed.scenario_config(scenario)
    changes: dict[str, Any] = {
        "seed": draw(st.integers(0, 2**64)),
        "strategy": draw(st.sampled_from(RUN_STRATEGIES)),
        "faults": frozenset(draw(st.lists(st.sampled_from([f.name for f in FAULTS]), max_size=3))),
        "program": draw(st.sampled_from([None, "myload:program", "pkg.workloads:Suite.run", "/abs/dir/load.py:fn"])),
    }
    page_words = draw(st.sampled_from([base.page_words, 64, 1000, 4096]))
    changes["page_words"] = page_words
    changes["lab_words"] = lab_words = draw(
        st.integers(8, min(page_words, 64)) | st.just(min(base.lab_words, page_words))
    )
    knobs = _knobs(lab_words)
    for name in draw(st.sets(st.sampled_from(sorted(knobs)))):
        changes[name] = draw(knobs[name])
    if changes.get("max_fields", base.max_fields) >= lab_words:
        changes["max_fields"] = lab_words - 1
    if draw(st.booleans()):
        weights = {name: draw(st.integers(0, 100)) for name, _ in Mix().items() if draw(st.booleans())}
        mix = dataclasses.replace(base.mix, **weights)
        if any(weight for _, weight in mix.items()):
            changes["mix"] = mix
    return base.replace(**changes)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=any_configs())
def test_parsing_the_reproduce_command_gives_back_the_config(config: Config) -> None:
    command = testbed.reproduce_command(config)
    assert shlex.split(command)[:2] == ["testbed", "run"]
    assert config_from_command(command) == config


@settings(max_examples=50, deadline=None, database=None)
@given(config=any_configs())
def test_the_reproduce_command_of_a_parsed_command_is_the_same_command(config: Config) -> None:
    command = testbed.reproduce_command(config)
    assert testbed.reproduce_command(config_from_command(command)) == command


def test_a_config_without_a_scenario_says_so_and_keeps_every_knob() -> None:
    config = Config(gc_interval=10, mutators=2, faults=frozenset({"skip-flush"}))
    command = testbed.reproduce_command(config)
    assert (
        command
        == "testbed run --scenario none --seed 0 --strategy free --fault skip-flush --mutators 2 --gc-interval 10"
    )
    assert config_from_command(command) == config


def test_only_settings_unlike_the_scenarios_are_written() -> None:
    config = testbed.scenario_config("waltz", seed=3, strategy="pct", pct_depth=5, switch_interval=None)
    config = config.replace(mix=dataclasses.replace(config.mix, barrier_store=40))
    assert testbed.reproduce_command(config) == (
        "testbed run --scenario waltz --seed 3 --strategy pct "
        "--set mix.barrier_store=40 --set pct_depth=5 --set switch_interval=none"
    )
