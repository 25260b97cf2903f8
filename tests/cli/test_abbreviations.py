"""Options are spelled out: no parser takes a prefix of an option for the option.

argparse's default (``allow_abbrev=True``) reads ``--sched 3`` as
``--schedules 3``; a command written that way changes meaning, or stops
parsing, the day another option with the same prefix is added.  Every
parser of ``testbed`` refuses prefixes, and every ``testbed`` command the
README shows still parses (they all spell their options out).
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from testbed.cli.arguments import glue_values
from testbed.cli.parser import build_parser

pytestmark = pytest.mark.timeout(30)

README = Path(__file__).resolve().parents[2] / "README.md"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def readme_commands() -> list[str]:
    """Every ``testbed ...`` line of the README's ``sh`` blocks, continuations joined, comments dropped."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["testbed"]:
                commands.append(shlex.join(words[1:]))
    return commands


def test_every_parser_refuses_prefixes() -> None:
    parser = build_parser()
    assert parser.allow_abbrev is False
    commands = _subparsers(parser)
    assert {"run", "stress", "replay", "shrink", "timeline"} <= set(commands)
    for name, command in commands.items():
        assert command.allow_abbrev is False, name


@pytest.mark.parametrize(
    "argv",
    [
        ["stress", "--sched", "3"],
        ["run", "--scen", "mixed"],
        ["run", "--strat", "random"],
        ["replay", "t.json", "--tim", "2"],
    ],
)
def test_a_prefix_is_an_unknown_option(cli, usage_error, argv: list[str]) -> None:
    usage_error(cli(*argv), "unrecognized arguments", argv[-2])


def test_whole_names_and_equals_forms_still_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(glue_values(["stress", "--schedules", "3", "--scenario=mixed", "-vv"]))
    assert (args.schedules, args.scenario, args.verbose) == (3, "mixed", 2)


def test_every_readme_command_parses() -> None:
    commands = readme_commands()
    assert len(commands) >= 15, commands  # the extraction found the README's examples
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(glue_values(shlex.split(command)))
        assert args.command is not None, command
