"""``testbed run``: one schedule, checked; its violations, stats and reproduce command."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any, TextIO

from testbed.api import RunResult, reproduce_command, run
from testbed.cli import output
from testbed.cli.arguments import UsageError, add_command, add_model_options, build_config, validate_model_args
from testbed.explain import explain
from testbed.runtime import Config
from testbed.scenarios import DEFAULT_SCENARIO

__all__ = ["add_parser", "cmd_run"]


def add_parser(commands: Any) -> None:
    p = add_command(commands, "run")
    p.add_argument(
        "--scenario",
        help=f"scenario, or `none` for Config's own defaults (default {DEFAULT_SCENARIO}; none with --program)",
    )
    p.add_argument(
        "--trace-out",
        metavar="FILE",
        help="write the run's trace (free: the order its threads ran in, for `testbed pin`)",
    )
    p.add_argument("--explain", action="store_true", help="tell the story of one deopt that met a scavenge")
    add_model_options(p)


def _check_trace_out(args: argparse.Namespace) -> None:
    if args.trace_out is None:
        return
    if args.json not in (None, "-") and Path(args.json).resolve() == Path(args.trace_out).resolve():
        raise UsageError(f"--json and --trace-out name the same file {args.trace_out!r}")


def _write_trace(args: argparse.Namespace, result: RunResult, command: str) -> tuple[str | None, str]:
    """``--trace-out``: the path written (None if none) and the command that reruns the run."""
    if args.trace_out is None or result.trace is None:
        return None, command
    reason = output.deliver(args.trace_out, output.trace_text(result.trace))
    if reason is not None:
        output.warn(f"cannot write --trace-out {args.trace_out!r} ({reason}); reproduce with: {command}")
        return None, command
    if result.violations:
        verb = "pin" if result.trace.get("kind") == "free" else "replay"
        command = f"testbed {verb} {shlex.quote(args.trace_out)}"
    return args.trace_out, command


def _print_run(args: argparse.Namespace, config: Config, result: RunResult, violations: list[Any], out: TextIO) -> None:
    stats = result.stats
    print(
        f"testbed run: scenario {output.label(config)}, seed {config.seed}, strategy {config.strategy}, "
        f"faults {', '.join(sorted(config.faults)) or 'none'}",
        file=out,
    )
    print(f"  {output.stats_line(stats)}; {stats['wall_s']:.2f}s", file=out)
    never = output.never_evaluated(stats, "this run")
    if never is not None:
        print(never, file=out)
    if args.explain:
        print("\n".join(explain(result.events)), file=out)
    if violations:
        print(f"VIOLATION ({len(violations)}):", file=out)
        for data in violations:
            print("\n".join(output.violation_lines(data)), file=out)
    else:
        print("no violations", file=out)


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    validate_model_args(args)
    _check_trace_out(args)
    config = build_config(args)
    config.program_function()  # exit 2 naming the reference when it does not import
    output.outputs.claim_file("--json", args.json)
    output.outputs.claim_file("--trace-out", args.trace_out)
    result = run(config)
    trace_path, command = _write_trace(args, result, reproduce_command(config))
    violations = []
    for violation in result.violations:
        data = violation.to_json()
        data.update(seed=config.seed, trace=trace_path, reproduce=command)
        violations.append(data)
    _print_run(args, config, result, violations, out)
    output.write_json(
        args.json,
        output.result_json(
            "run",
            config.scenario,
            config.program_reference,
            config.seed,
            config.strategy,
            sorted(config.faults),
            1,
            violations,
            result.stats,
        ),
    )
    return 1 if violations else 0
