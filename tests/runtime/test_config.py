"""Config validation: a bad value raises ConfigError naming the field."""

from __future__ import annotations

import pytest

import testbed
from testbed import Config, ConfigError, Mix

BAD_VALUES = [
    ("mutators", {"mutators": 0}),
    ("mutators", {"mutators": True}),
    ("mutators", {"mutators": 2.5}),
    ("ops", {"ops": -1}),
    ("seed", {"seed": -1}),
    ("new_space_pages", {"new_space_pages": 0}),
    ("page_words", {"page_words": 32}),
    ("lab_words", {"lab_words": 4}),
    ("lab_words", {"lab_words": 1024, "page_words": 512}),
    ("store_buffer_capacity", {"store_buffer_capacity": 0}),
    ("worklist_segment", {"worklist_segment": 0}),
    ("gc_interval", {"gc_interval": -5}),
    ("max_fields", {"max_fields": 0}),
    ("max_fields", {"max_fields": 40, "lab_words": 32}),
    ("scope_handles", {"scope_handles": 1}),
    ("globals_per_mutator", {"globals_per_mutator": -1}),
    ("yield_probability", {"yield_probability": 2}),
    ("yield_probability", {"yield_probability": -0.1}),
    ("switch_interval", {"switch_interval": 0}),
    ("wait_timeout", {"wait_timeout": 0}),
    ("wait_timeout", {"wait_timeout": -1.0}),
    ("run_timeout", {"run_timeout": 0}),
    ("mix", {"mix": Mix(alloc=-1)}),
    ("mix", {"mix": Mix(*([0] * len(Mix().items())))}),
]


def case_id(changes: dict[str, object]) -> str:
    return ",".join(
        f"{name}={value!r}" if isinstance(value, int | float) else f"{name}=<{type(value).__name__}>"
        for name, value in changes.items()
    )


@pytest.mark.parametrize(("field", "changes"), BAD_VALUES, ids=[case_id(c) for _, c in BAD_VALUES])
def test_bad_config_value_raises_config_error_naming_the_field(field: str, changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=field):
        Config(**changes)


@pytest.mark.parametrize(("field", "changes"), BAD_VALUES[:6], ids=[case_id(c) for _, c in BAD_VALUES[:6]])
def test_config_replace_validates_too(field: str, changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=field):
        Config().replace(**changes)


def test_scenario_config_with_bad_override_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="mutators"):
        testbed.scenario_config("mixed", mutators=0)


def test_config_error_is_a_value_error_exported_at_top_level() -> None:
    assert issubclass(testbed.ConfigError, ValueError)
    assert testbed.ConfigError is ConfigError


@pytest.mark.parametrize(
    "changes",
    [
        {"ops": 0},
        {"gc_interval": 0},
        {"globals_per_mutator": 0},
        {"yield_probability": 0.0},
        {"yield_probability": 1.0},
        {"switch_interval": None},
        {"lab_words": 512, "page_words": 512},
        {"max_fields": 31, "lab_words": 32},
        {"mix": Mix(*([0] * (len(Mix().items()) - 1)), 1)},
    ],
)
def test_boundary_values_are_accepted(changes: dict[str, object]) -> None:
    config = Config(**changes)
    for name, value in changes.items():
        assert getattr(config, name) == value


def test_faults_are_normalised_to_a_frozenset() -> None:
    config = Config(faults=["skip-flush"])  # type: ignore[arg-type]
    assert config.faults == frozenset({"skip-flush"})
    assert isinstance(config.faults, frozenset)


@pytest.mark.parametrize(
    ("field", "value"),
    [("yield_probability", "0.5"), ("switch_interval", "fast"), ("wait_timeout", True), ("faults", "skip-flush")],
)
def test_wrong_kind_of_value_raises_config_error(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        Config(**{field: value})  # type: ignore[arg-type]
