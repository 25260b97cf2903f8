"""``testbed shrink TRACE -o OUT``: a calmer schedule with the same violation, written as a trace."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any, TextIO

from testbed.cli import output
from testbed.cli.arguments import UsageError, add_allow_changed_code, add_command, count
from testbed.runtime import Config
from testbed.sched import TraceError
from testbed.shrink import shrink
from testbed.traces import load_trace

__all__ = ["add_parser", "cmd_shrink"]


def add_parser(commands: Any) -> None:
    p = add_command(commands, "shrink")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the shrunk trace")
    p.add_argument("--max-runs", type=count(1), default=400, help="runs the search may use (default 400)")
    add_allow_changed_code(p)


def cmd_shrink(args: argparse.Namespace, out: TextIO) -> int:
    output.check_output_file("-o", args.output)
    trace = load_trace(args.trace)
    config = Config.from_json(trace["config"])
    config.program_function()  # exit 2 naming the reference when it does not import
    if trace["violation"] is None:
        raise UsageError(f"trace {args.trace!r} records no violation; nothing to shrink")
    output.outputs.claim_file("-o", args.output)
    try:
        result = shrink(trace, max_runs=args.max_runs, allow_changed_code=args.allow_changed_code)
    except TraceError as error:  # a replay that diverges, code changed since the recording
        raise UsageError(f"cannot shrink {args.trace}: {error}") from None
    except ValueError as error:  # the recorded violation does not recur: nothing was shrunk
        raise UsageError(f"cannot shrink {args.trace}: {error}") from None
    reason = output.deliver(args.output, output.trace_text(result.trace))
    if reason is not None:
        output.warn(f"cannot write -o {args.output!r} ({reason}); the shrunk trace follows on stderr")
        sys.stderr.write(output.trace_text(result.trace))
        return 1
    before, after = result.before, result.after
    print(f"testbed shrink: {result.invariant} still reproduces after {result.runs} runs", file=out)
    for key in ("preemptions", "tape_length", "nonzero_decisions", "steps"):
        print(f"  {key:18} {before[key]:>8} -> {after[key]}", file=out)
    print(f"  wrote {args.output}; reproduce: testbed replay {shlex.quote(args.output)}", file=out)
    return 1
