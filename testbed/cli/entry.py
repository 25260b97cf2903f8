"""``main``: parse the command line, run the command, turn bad input into one line and exit status 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from loguru import logger

from testbed.cli import output
from testbed.cli.arguments import UsageError, glue_values, overview
from testbed.cli.catalogues import cmd_catalogue
from testbed.cli.explain import cmd_explain
from testbed.cli.parser import build_parser
from testbed.cli.pin import cmd_pin
from testbed.cli.replay import cmd_replay
from testbed.cli.run import cmd_run
from testbed.cli.shrink import cmd_shrink
from testbed.cli.stress import cmd_stress
from testbed.cli.timeline import cmd_timeline
from testbed.faults import UnknownFault
from testbed.runtime import ConfigError
from testbed.scenarios import UnknownScenario
from testbed.sched import TraceError
from testbed.validate import UnknownStrategy

__all__ = ["main"]

#: each command's function (the catalogue commands share one)
COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "run": cmd_run,
    "stress": cmd_stress,
    "replay": cmd_replay,
    "shrink": cmd_shrink,
    "pin": cmd_pin,
    "timeline": cmd_timeline,
    "explain": cmd_explain,
}


def _log_verbosely(verbose: int) -> None:
    """``-v``: the library's log on stderr (``-vv``: debug)."""
    logger.enable("testbed")
    logger.remove()
    logger.add(
        sys.stderr,
        level="DEBUG" if verbose > 1 else "INFO",
        format="{time:HH:mm:ss.SSS} {level: <7} {message}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The ``testbed`` command; returns the exit status (bare ``testbed``: the command list, status 2)."""
    parser = build_parser()
    output.outputs.reset()
    try:
        args = parser.parse_args(glue_values(list(sys.argv[1:] if argv is None else argv)))
        if args.command is None:
            # No command is bad usage (2), not "no violation" (0): a script that lost its
            # arguments must not pass.  The list of commands is what a person wants to see.
            print(f"{parser.format_usage().rstrip()}\n\n{overview()}", file=sys.stderr)
            return 2
        output.outputs.note_inputs(args)  # no output may overwrite them
        out = sys.stderr if getattr(args, "json", None) == "-" else sys.stdout
        if getattr(args, "verbose", 0):
            _log_verbosely(args.verbose)
        return COMMANDS.get(args.command, cmd_catalogue)(args, out)
    except (UsageError, ConfigError, UnknownFault, UnknownScenario, UnknownStrategy, TraceError) as error:
        output.outputs.discard()
        print(f"testbed: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1
