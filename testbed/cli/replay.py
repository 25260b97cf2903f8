"""``testbed replay TRACE``: run a trace's schedule again and say whether it found the recorded violation.

``--explain`` (``testbed explain TRACE`` for short) then tells the run's
story (:mod:`testbed.explain`) and, for each preemption, the racing pair
behind it (:mod:`testbed.races`); ``--timeline FILE`` also writes the
Perfetto timeline with a flow arrow for each racing pair.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any, TextIO

from testbed.cli import output
from testbed.cli.arguments import UsageError, add_allow_changed_code, add_command, count
from testbed.explain import explain
from testbed.races import explain_races, race_lines
from testbed.runtime import Config
from testbed.sched import ReplayDivergedError, TraceError
from testbed.shrink import ReplayResult, replay
from testbed.timeline import write_timeline
from testbed.traces import load_trace

__all__ = ["add_explain", "add_parser", "cmd_replay"]


def add_parser(commands: Any) -> None:
    p = add_command(commands, "replay")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("--times", type=count(1), default=1, help="replays (default 1)")
    p.add_argument("--json", metavar="FILE", help="write the JSON result to FILE (- for stdout)")
    add_explain(p)
    add_allow_changed_code(p)


def add_explain(p: argparse.ArgumentParser, always: bool = False) -> None:
    """``--explain`` (replay) and ``--timeline FILE`` (replay --explain, explain)."""
    if not always:
        p.add_argument("--explain", action="store_true", help="the run's story and the racing pair of each preemption")
    p.add_argument("--timeline", metavar="FILE", help="with the explanation: the timeline, racing pairs as arrows")


def _print_replay(
    args: argparse.Namespace, trace: dict[str, Any], config: Config, outcome: ReplayResult, out: TextIO
) -> None:
    recorded = trace["violation"]
    decisions = sum(run[3] for run in trace["tape"])
    print(
        f"testbed replay: {args.trace} (scenario {output.label(config)}, seed {config.seed}, "
        f"strategy {trace['strategy']}, {decisions} decisions); expecting {output.found(recorded)}",
        file=out,
    )
    print(f"  reproduced {outcome.matches}/{args.times}", file=out)
    for i, result in enumerate(outcome.results):
        got = result.violations[0].to_json() if result.violations else None
        if (None if got is None else (got["invariant"], got["step"])) != outcome.expected:
            print(f"  replay {i + 1} found {output.found(got)}, not the recorded {output.found(recorded)}", file=out)


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    """Exit 1 when a replay finds a violation (the recorded one or not), 0 when every replay is clean and the
    trace recorded none; 2 (nothing printed but the one-line error) when one stops following the trace's
    tape, when the code changed since the recording (unless --allow-changed-code), and when the trace
    recorded a violation that no replay found (the one line says why)."""
    if args.json not in (None, "-"):
        output.check_output_file("--json", args.json)
    if args.timeline is not None:
        if not args.explain:
            raise UsageError("--timeline draws the explanation: it needs --explain")
        output.check_output_file("--timeline", args.timeline)
    trace = load_trace(args.trace)
    config = Config.from_json(trace["config"])
    config.program_function()  # exit 2 naming the reference when it does not import
    output.outputs.claim_file("--json", args.json)
    output.outputs.claim_file("--timeline", args.timeline)
    try:
        outcome = replay(trace, times=args.times, allow_changed_code=args.allow_changed_code)
    except ReplayDivergedError as error:
        raise UsageError(f"replay of {args.trace} {error}") from None
    except TraceError as error:  # the code changed since the recording, the run's threads differ
        raise UsageError(f"cannot replay {args.trace}: {error}") from None
    if outcome.changed:
        output.warn(
            f"replaying across a change: {' and '.join(outcome.changed)} changed since {args.trace} was recorded"
        )
    if outcome.lost is not None and not any(result.violations for result in outcome.results):
        raise UsageError(f"replay of {args.trace}: {outcome.lost}")
    _print_replay(args, trace, config, outcome, out)
    if outcome.lost is not None:
        print(f"  {outcome.lost}", file=out)
    if args.explain:
        _explain(args, trace, outcome, out)
    violations = []
    for violation in outcome.results[0].violations:
        data = violation.to_json()
        data.update(seed=config.seed, trace=args.trace, reproduce=f"testbed replay {shlex.quote(args.trace)}")
        violations.append(data)
    document = output.result_json(
        "replay",
        config.scenario,
        config.program_reference,
        config.seed,
        trace["strategy"],
        sorted(config.faults),
        args.times,
        violations,
        outcome.results[0].stats,
    )
    document["reproduced"] = outcome.matches
    output.write_json(args.json, document)
    return 1 if any(result.violations for result in outcome.results) else 0


def _explain(args: argparse.Namespace, trace: dict[str, Any], outcome: ReplayResult, out: TextIO) -> None:
    """The story of the first replay, then the racing pairs (one more replay, watching every point)."""
    print("\n".join(explain(outcome.results[0].events)), file=out)
    if trace["violation"] is None:
        return
    config = Config.from_json(trace["config"]).replace(strategy="replay")
    try:
        result, races = explain_races(trace, config)
    except ReplayDivergedError as error:
        raise UsageError(f"replay of {args.trace} {error}") from None
    print("\n".join(race_lines(result, races)), file=out)
    if args.timeline is not None:
        try:
            count = write_timeline(trace, args.timeline, races)
        except OSError as error:
            raise UsageError(f"cannot write --timeline {args.timeline!r}: {error.strerror or error}") from None
        print(f"timeline: {count} events, {len(races)} racing pair(s) as arrows -> {args.timeline}", file=out)
