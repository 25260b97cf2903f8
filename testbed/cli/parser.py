"""The ``testbed`` command line: the parser of every command, and a ``testbed run`` line read back."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence

from testbed._version import __version__
from testbed.cli import catalogues, explain, pin, replay, run, shrink, stress, timeline
from testbed.cli.arguments import Parser, build_config, glue_values, overview
from testbed.runtime import Config, ConfigError

__all__ = ["build_parser", "config_from_command"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="testbed",
        description=(
            "A real-thread concurrency testbed for a V8-style runtime: run schedules under invariant "
            "checkers, then replay, shrink and draw what they find."
        ),
        epilog=overview(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"testbed {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", help="one of the commands below", parser_class=Parser
    )
    run.add_parser(commands)
    replay.add_parser(commands)
    timeline.add_parser(commands)
    shrink.add_parser(commands)
    explain.add_parser(commands)
    pin.add_parser(commands)
    stress.add_parser(commands)
    catalogues.add_parsers(commands)
    return parser


def config_from_command(command: str | Sequence[str]) -> Config:
    """The Config a ``testbed run ...`` command line builds (a reproduce command, say).

    Raises :class:`ConfigError` (or ``UsageError``) when it is not one.
    """
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:1] == ["testbed"]:
        words = words[1:]
    if words[:1] != ["run"]:
        raise ConfigError(f"not a `testbed run` command: {command!r}")
    return build_config(build_parser().parse_args(glue_values(words)))
