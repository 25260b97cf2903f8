"""The ``testbed run`` command line of a Config, and the ``--set NAME=VALUE`` settings that build one.

``reproduce_command(config)`` is the ``testbed run`` command line that
builds ``config`` again: every field that differs from its scenario's
defaults (or from ``Config``'s when it has no scenario) is on it, as its own
flag (``--mutators``, ``--ops``, ``--gc-interval``,
``--store-buffer-capacity``, ``--scavenger-workers``) or as ``--set
NAME=VALUE`` (``--set mix.WEIGHT=N`` for the operation mix).
``config_changes`` reads such settings back.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from typing import Any

from testbed.runtime import Config, ConfigError, Mix, program_importable, program_reference
from testbed.scenarios import scenario_config

__all__ = ["FLAG_FIELDS", "config_changes", "reproduce_command", "settable_fields"]

#: Config fields with a CLI flag of their own (``--gc-interval``); every other knob is ``--set NAME=VALUE``
FLAG_FIELDS = ("mutators", "ops", "gc_interval", "store_buffer_capacity", "scavenger_workers")

#: Config fields a command line gives with --scenario, --program, --seed, --strategy and --fault
_IDENTITY = ("scenario", "program", "seed", "strategy", "faults")


def _field_types() -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(Config) if f.name not in _IDENTITY}


def settable_fields() -> list[str]:
    """Every name ``--set NAME=VALUE`` takes: the Config knobs and ``mix.WEIGHT``."""
    names = [name for name in _field_types() if name != "mix"]
    return names + [f"mix.{weight}" for weight, _ in Mix().items()]


def _format_value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that parses back to the same float
    return str(value)


def _parse_value(name: str, kind: str, text: str) -> object:
    """``text`` as a value of the field's type (``int``, ``bool``, ``float``, ``float | None``)."""
    word = text.strip().lower()
    try:
        if "None" in kind and word == "none":
            return None
        if kind == "bool":
            if word not in ("true", "false"):
                raise ValueError
            return word == "true"
        if kind == "int":
            return int(word)
        return float(word)
    except ValueError:
        expected = {"bool": "true or false", "int": "an integer"}.get(kind, "a number")
        if "None" in kind:
            expected += " or none"
        raise ConfigError(f"--set {name}: expected {expected}, got {text!r}") from None


def config_changes(base: Config, settings: Sequence[str]) -> dict[str, Any]:
    """The Config changes that ``--set NAME=VALUE`` settings make to ``base``.

    ``NAME`` is a Config field (``pct_depth``, ``switch_probability``,
    ``switch_interval`` ... ``none`` for None, ``true``/``false`` for flags) or
    ``mix.WEIGHT`` (one weight of the operation mix, the others kept from
    ``base``).  Raises :class:`ConfigError` naming the setting.
    """
    types = _field_types()
    changes: dict[str, Any] = {}
    weights: dict[str, int] = {}
    for setting in settings:
        name, equals, text = setting.partition("=")
        name = name.strip().replace("-", "_")
        if not equals:
            raise ConfigError(f"--set needs NAME=VALUE, got {setting!r}")
        if name.startswith("mix."):
            weight = name.removeprefix("mix.")
            if weight not in dict(Mix().items()):
                raise ConfigError(
                    f"--set {name}: unknown mix weight {weight!r} (known: {', '.join(dict(Mix().items()))})"
                )
            weights[weight] = _parse_value(name, "int", text)  # type: ignore[assignment]
        elif name in types and name != "mix":
            changes[name] = _parse_value(name, types[name], text)
        elif name in _IDENTITY or name == "mix":
            flag = {"faults": "--fault", "mix": "--set mix.WEIGHT=N"}.get(name, f"--{name}")
            raise ConfigError(f"--set {name}: use {flag}")
        else:
            raise ConfigError(f"--set: unknown config field {name!r} (known: {', '.join(settable_fields())})")
    if weights:
        changes["mix"] = dataclasses.replace(base.mix, **weights)
    return changes


def _base_of(config: Config) -> Config:
    return scenario_config(config.scenario)


def _differences(config: Config) -> list[tuple[str, Any]]:
    """``(field, value)`` of every knob (not scenario, program, seed, strategy, faults) unlike the base's."""
    base = _base_of(config)
    return [(name, getattr(config, name)) for name in _field_types() if getattr(config, name) != getattr(base, name)]


def reproduce_command(config: Config) -> str:
    """The ``testbed run`` command line that builds ``config`` again and reruns its schedule.

    It names the scenario (``--scenario none`` for a Config without one and
    without a program), the program's reference, the seed, strategy and
    faults, and every knob that differs from the scenario's defaults.  For a
    program that cannot be imported (a closure, a lambda) it is the Python
    call instead, ``testbed.run(testbed.Config(program=NAME, ...))``, to be
    run where ``NAME`` is that function.
    """
    if config.program is not None and not program_importable(config.program):
        return _reproduce_call(config)
    words = ["testbed", "run"]
    if config.scenario is not None:
        words += ["--scenario", config.scenario]
    elif config.program is None:
        words += ["--scenario", "none"]
    if config.program is not None:
        words += ["--program", program_reference(config.program)]
    words += ["--seed", str(config.seed), "--strategy", config.strategy]
    for fault in sorted(config.faults):
        words += ["--fault", fault]
    base = _base_of(config)
    settings: list[str] = []
    for name, value in _differences(config):
        if name in FLAG_FIELDS:
            words += [f"--{name.replace('_', '-')}", str(value)]
        elif name == "mix":
            settings += [
                f"mix.{w}={n}" for (w, n), (_, old) in zip(value.items(), base.mix.items(), strict=True) if n != old
            ]
        else:
            settings.append(f"{name}={_format_value(value)}")
    for setting in settings:
        words += ["--set", setting]
    return shlex.join(words)


def _reproduce_call(config: Config) -> str:
    """The Python call that reruns ``config``, whose program is a function in the caller's scope."""
    name = getattr(config.program, "__name__", "")
    arguments = [f"program={name if name.isidentifier() else 'program'}"]
    arguments += [f"seed={config.seed}", f"strategy={config.strategy!r}"]
    if config.faults:
        arguments.append(f"faults={sorted(config.faults)!r}")
    for field, value in _differences(config):
        if field == "mix":
            weights = ", ".join(
                f"{w}={n}" for (w, n), (_, d) in zip(value.items(), Mix().items(), strict=True) if n != d
            )
            arguments.append(f"mix=testbed.Mix({weights})")
        else:
            arguments.append(f"{field}={value!r}")
    if config.scenario is None:
        return f"testbed.run(testbed.Config({', '.join(arguments)}))"
    return f"testbed.run(testbed.scenario_config({config.scenario!r}, {', '.join(arguments)}))"
