"""``testbed shrink TRACE -o OUT``: a calmer schedule, and a smaller workload, with the same violation, written as a trace.

``--joint`` shrinks the workload's knobs too (``testbed.shrink(...,
joint=True)`` in Python): the shrunk trace's config is then what a user
should read.  It is opt-in because each knob costs runs of the whole
workload (a few hundred on a full scenario, against tens for the tape).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any, TextIO

from testbed.cli import output
from testbed.cli.arguments import UsageError, add_allow_changed_code, add_command, count
from testbed.runtime import Config
from testbed.sched import TraceError
from testbed.shrink import ShrinkResult, shrink
from testbed.traces import load_trace

__all__ = ["add_parser", "cmd_shrink"]


def add_parser(commands: Any) -> None:
    p = add_command(commands, "shrink")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the shrunk trace")
    p.add_argument("--max-runs", type=count(1), default=400, help="runs the search may use (default 400)")
    p.add_argument(
        "--joint", action="store_true", help="shrink the workload's knobs too (mutators, ops, mix...; slower)"
    )
    p.add_argument("--json", metavar="FILE", help="write the JSON result to FILE (- for stdout)")
    add_allow_changed_code(p)


def cmd_shrink(args: argparse.Namespace, out: TextIO) -> int:
    output.check_output_file("-o", args.output)
    if args.json not in (None, "-"):
        output.check_output_file("--json", args.json)
    trace = load_trace(args.trace)
    config = Config.from_json(trace["config"])
    config.program_function()  # exit 2 naming the reference when it does not import
    if trace["violation"] is None:
        raise UsageError(f"trace {args.trace!r} records no violation; nothing to shrink")
    output.outputs.claim_file("-o", args.output)
    output.outputs.claim_file("--json", args.json)
    try:
        result = shrink(trace, max_runs=args.max_runs, allow_changed_code=args.allow_changed_code, joint=args.joint)
    except TraceError as error:  # a replay that diverges, code changed since the recording
        raise UsageError(f"cannot shrink {args.trace}: {error}") from None
    except ValueError as error:  # the recorded violation does not recur: nothing was shrunk
        raise UsageError(f"cannot shrink {args.trace}: {error}") from None
    reason = output.deliver(args.output, output.trace_text(result.trace))
    if reason is not None:
        output.warn(f"cannot write -o {args.output!r} ({reason}); the shrunk trace follows on stderr")
        sys.stderr.write(output.trace_text(result.trace))
        return 1
    _print_shrink(args, result, out)
    output.write_json(args.json, _document(args, result))
    return 1


def _print_shrink(args: argparse.Namespace, result: ShrinkResult, out: TextIO) -> None:
    before, after = result.before, result.after
    signature = result.signature
    print(
        f"testbed shrink: {result.invariant} still reproduces after {result.runs} runs "
        f"(same signature: {signature['invariant']} at {signature['operation']}, roles {', '.join(signature['roles'])})",
        file=out,
    )
    for key in ("preemptions", "tape_length", "nonzero_decisions", "steps"):
        print(f"  {key:22} {before[key]:>8} -> {after[key]}", file=out)
    for knob, (was, now) in result.knobs.items():
        print(f"  {knob:22} {was!s:>8} -> {now}", file=out)
    if result.minimal:
        print("  1-minimal: no single preemption left can go (shrinking it again changes nothing)", file=out)
    else:
        print(
            f"  not 1-minimal yet: --max-runs {args.max_runs} ran out first; shrink the output again to go on", file=out
        )
    print(f"  wrote {args.output}; reproduce: testbed replay {shlex.quote(args.output)}", file=out)
    print(f"  explain: testbed explain {shlex.quote(args.output)}", file=out)


def _document(args: argparse.Namespace, result: ShrinkResult) -> dict[str, Any]:
    """The ``testbed.result/2`` document of the shrunk trace, with ``shrink``: measures before and after, the knobs."""
    config = Config.from_json(result.trace["config"])
    reproduce = f"testbed replay {shlex.quote(args.output)}"
    violation = dict(result.trace["violation"], seed=config.seed, trace=args.output, reproduce=reproduce)
    document = output.result_json(
        "shrink",
        config.scenario,
        config.program_reference,
        config.seed,
        result.trace["strategy"],
        sorted(config.faults),
        result.runs,
        [violation],
        {"runs": result.runs},
    )
    document["shrink"] = {
        "trace": args.trace,
        "signature": result.signature,
        "minimal": result.minimal,
        "converged": result.converged,
        "before": result.before,
        "after": result.after,
        "knobs": {name: {"before": was, "after": now} for name, (was, now) in result.knobs.items()},
    }
    return document
