"""``testbed pin TRACE``: a free trace's finding turned into a controlled trace that replays it exactly."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any, TextIO

from testbed.cli import output
from testbed.cli.arguments import UsageError, add_allow_changed_code, add_command, count
from testbed.pinning import DEFAULT_PIN_BUDGET, pin_trace
from testbed.runtime import Config
from testbed.sched import TraceError
from testbed.traces import load_trace

__all__ = ["add_parser", "cmd_pin", "pinned_path"]


def add_parser(commands: Any) -> None:
    p = add_command(commands, "pin")
    p.add_argument("trace", metavar="TRACE", help="a free trace (testbed run --trace-out, stress --out)")
    p.add_argument(
        "--budget",
        type=count(1),
        default=DEFAULT_PIN_BUDGET,
        help=f"schedules the search may run (default {DEFAULT_PIN_BUDGET})",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="where to write the pinned trace (default TRACE-pinned.json)")
    add_allow_changed_code(p)


def pinned_path(trace: str) -> str:
    """Where a pinned trace goes by default: beside the free one, ``NAME-pinned.json``."""
    path = Path(trace)
    return str(path.with_name(f"{path.stem}-pinned.json"))


def cmd_pin(args: argparse.Namespace, out: TextIO) -> int:
    """Exit 1 when pinned (the controlled trace finds the violation); 2 for bad input and when not pinned."""
    target = args.output or pinned_path(args.trace)
    output.check_output_file("-o", target)
    trace = load_trace(args.trace, free=True)
    Config.from_json(trace["config"]).program_function()  # exit 2 naming the reference when it does not import
    output.outputs.claim_file("-o", target)
    try:
        result = pin_trace(trace, budget=args.budget, allow_changed_code=args.allow_changed_code)
    except TraceError as error:  # a controlled trace, no violation, the code changed since the recording
        raise UsageError(f"cannot pin {args.trace}: {error}") from None
    if result.trace is None:
        raise UsageError(
            f"{args.trace}: not pinned within {result.schedules} schedules; "
            f"`testbed pin {shlex.quote(args.trace)} --budget {max(10 * args.budget, 500)}` tries harder"
        )
    reason = output.deliver(target, output.trace_text(result.trace))
    if reason is not None:
        output.warn(f"cannot write -o {target!r} ({reason}); the pinned trace follows on stderr")
        sys.stderr.write(output.trace_text(result.trace))
        return 1
    invariant, operation, roles = result.target
    print(
        f"testbed pin: {invariant} at {operation} (roles {', '.join(roles)}) pinned in {result.schedules} "
        f"schedule{'s' if result.schedules != 1 else ''} ({result.how}), {result.seconds:.1f}s",
        file=out,
    )
    print(f"  wrote {target}; reproduce: testbed replay {shlex.quote(target)}", file=out)
    return 1
