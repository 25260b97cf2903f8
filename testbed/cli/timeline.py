"""``testbed timeline TRACE -o FILE``: a trace as Chrome trace-event JSON, for Perfetto."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from testbed.cli import output
from testbed.cli.arguments import UsageError, add_command
from testbed.timeline import write_timeline
from testbed.traces import load_trace

__all__ = ["add_parser", "cmd_timeline"]


def add_parser(commands: Any) -> None:
    p = add_command(commands, "timeline")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the timeline")


def cmd_timeline(args: argparse.Namespace, out: TextIO) -> int:
    output.check_output_file("-o", args.output)
    trace = load_trace(args.trace)
    output.outputs.claim_file("-o", args.output)
    try:
        count = write_timeline(trace, args.output)
    except OSError as error:
        raise UsageError(f"cannot write -o {args.output!r}: {error.strerror or error}") from None
    print(f"testbed timeline: {count} events from {args.trace} -> {args.output} (open in ui.perfetto.dev)", file=out)
    return 0
