"""``testbed explain TRACE``: ``testbed replay TRACE --explain``, the racing pair behind each preemption."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from testbed.cli.arguments import add_allow_changed_code, add_command
from testbed.cli.replay import add_explain, cmd_replay

__all__ = ["add_parser", "cmd_explain"]


def add_parser(commands: Any) -> None:
    p = add_command(commands, "explain")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("--json", metavar="FILE", help="write the replay's JSON result to FILE (- for stdout)")
    add_explain(p, always=True)
    add_allow_changed_code(p)


def cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    """One replay, explained: the exit status of ``testbed replay TRACE --explain``."""
    args.times, args.explain = 1, True
    return cmd_replay(args, out)
