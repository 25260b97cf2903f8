"""The ``testbed`` command (DESIGN.md section 7).

Exit status: 0 no violation, 1 violation found, 2 bad usage or bad input.
Bad input is reported in one line naming the problem, never a traceback,
and is detected before any schedule runs, so nothing found is ever lost to
it.  Human output goes to stdout, or to stderr when ``--json -`` claims
stdout for the JSON result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from loguru import logger

from testbed import validate
from testbed._version import __version__
from testbed.api import (
    FLAG_FIELDS,
    STRATEGIES,
    RunResult,
    StressResult,
    UnknownStrategy,
    config_changes,
    reproduce_command,
    run,
    settable_fields,
    stress,
)
from testbed.campaign import cluster as campaign_cluster
from testbed.campaign import output as campaign_output
from testbed.campaign.monitor import Monitor, StopRequests, default_max_rss_mb
from testbed.campaign.output import atomic_write, event
from testbed.check import INVARIANTS
from testbed.explain import explain
from testbed.faults import FAULTS, UnknownFault
from testbed.runtime import Config, ConfigError
from testbed.scenarios import DEFAULT_SCENARIO, SCENARIOS, UnknownScenario, scenario_config
from testbed.sched import ReplayDivergedError, TraceError, load_trace
from testbed.shrink import replay, shrink
from testbed.timeline import write_timeline

__all__ = ["config_from_command", "main", "parse_duration"]

RESULT_SCHEMA = "testbed.result/1"


class UsageError(Exception):
    """Bad arguments or input: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """``"20s"``, ``"1.5m"``, ``"500ms"``, ``"2h"`` or plain seconds, as seconds > 0."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (use e.g. 30s, 2m, 500ms)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive, got {text!r}")
    return seconds


def _count(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        try:
            return validate.integer("the value", value, minimum)
        except ConfigError:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}") from None

    return parse


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--program",
        metavar="MODULE:FUNCTION",
        help="a custom workload fn(m) run by every mutator: MODULE:FUNCTION (importable, e.g. with PYTHONPATH=.) "
        "or path/to/file.py:FUNCTION; replaces the standard program",
    )
    parser.add_argument("--strategy", default="free", help=f"scheduling strategy ({', '.join(STRATEGIES)})")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="F", help="switch a fault on (repeatable; see `testbed faults`)"
    )
    parser.add_argument("--seed", type=_count(0), default=0, help="seed (default 0)")
    parser.add_argument("--json", metavar="FILE", help="write the JSON result to FILE (- for stdout)")
    parser.add_argument("--mutators", type=_count(1), help="mutator threads (scenario default: 4)")
    parser.add_argument("--ops", type=_count(0), help="operations per mutator")
    parser.add_argument("--gc-interval", type=_count(0), help="a scavenge every N allocations per mutator")
    parser.add_argument("--store-buffer-capacity", type=_count(1), help="store buffer entries per thread")
    parser.add_argument("--scavenger-workers", type=_count(0), help="scavenger worker threads (0: serial)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set any other config knob (repeatable), e.g. pct_depth=4, switch_interval=none, mix.barrier_store=40; "
        f"names: {', '.join(settable_fields())}",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress, from worker processes too (-vv: debug)"
    )


#: one example per command, shown by bare ``testbed``, ``testbed --help`` and each command's ``--help``
EXAMPLES = {
    "run": "testbed run --scenario mixed --strategy random --seed 7 --fault skip-flush --trace-out t.json",
    "stress": "testbed stress --scenario all --duration 30s --fault racy-forwarding --jobs 2 --out findings "
    "--json r.json --log-json events.jsonl --max-rss 4000",
    "replay": "testbed replay t.json --times 3",
    "shrink": "testbed shrink t.json -o small.json",
    "timeline": "testbed timeline t.json -o timeline.json",
    "scenarios": "testbed scenarios",
    "faults": "testbed faults --json -",
    "invariants": "testbed invariants",
}

_HELP = {
    "run": "run one schedule",
    "stress": "run many schedules with derived seeds",
    "replay": "re-run a trace and check it reproduces",
    "shrink": "shorten a trace's tape, keeping its violation",
    "timeline": "a trace as Chrome trace-event JSON (Perfetto)",
    "scenarios": "list scenarios",
    "faults": "list faults",
    "invariants": "list invariants",
}

_EXIT_STATUS = "exit status: 0 no violation, 1 violation found, 2 bad usage or bad input"


def overview() -> str:
    """The commands, one example each (bare ``testbed``, and the end of ``testbed --help``)."""
    width = max(map(len, EXAMPLES))
    lines = ["commands (one example each):"]
    for name, example in EXAMPLES.items():
        lines.append(f"  {name:<{width}}  {_HELP[name]}")
        lines.append(f"  {'':<{width}}    {example}")
    lines += ["", "`testbed COMMAND --help` lists a command's options.", _EXIT_STATUS]
    return "\n".join(lines)


def _command(commands: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        description=_HELP[name][0].upper() + _HELP[name][1:] + ".",
        epilog=f"example:\n  {EXAMPLES[name]}\n\n{_EXIT_STATUS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        dest="command", metavar="COMMAND", help="one of the commands below", parser_class=_Parser
    )

    p = _command(commands, "run")
    p.add_argument(
        "--scenario",
        help=f"scenario, or `none` for Config's own defaults (default {DEFAULT_SCENARIO}; none with --program)",
    )
    p.add_argument("--trace-out", metavar="FILE", help="write the run's trace (controlled strategies only)")
    p.add_argument("--explain", action="store_true", help="tell the story of one deopt that met a scavenge")
    _add_model_options(p)

    p = _command(commands, "replay")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("--times", type=_count(1), default=1, help="replays (default 1)")
    p.add_argument("--json", metavar="FILE", help="write the JSON result to FILE (- for stdout)")

    p = _command(commands, "timeline")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the timeline")

    p = _command(commands, "shrink")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the shrunk trace")
    p.add_argument("--max-runs", type=_count(1), default=400, help="runs the search may use (default 400)")

    p = _command(commands, "stress")
    p.add_argument(
        "--scenario",
        help="scenario name, comma-separated names (round robin), `all`, or `none` for Config's own defaults "
        f"(default {DEFAULT_SCENARIO}; none with --program)",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--duration", type=parse_duration, help="time budget, e.g. 30s (default 20s)")
    budget.add_argument("--schedules", type=_count(1), help="number of schedules")
    p.add_argument("--jobs", type=_count(1), default=1, help="worker processes (default 1)")
    p.add_argument(
        "--cluster",
        metavar="tcp://HOST:PORT",
        help="run the schedules on this Dask distributed cluster instead of local processes (needs "
        "pip install 'testbed[cluster]'; same seeds and results as a local campaign), e.g. "
        "--cluster tcp://10.0.0.5:8786 after `dask scheduler` and `dask worker tcp://10.0.0.5:8786 --nthreads 1`",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="keep one trace per bucket of findings (its smallest: fewest preemptions, then earliest step) "
        "in DIR, with an index.json",
    )
    p.add_argument("--shrink", action="store_true", help="at the end, shrink each bucket's trace in --out DIR")
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="draw each schedule's knobs (gc interval, store-buffer capacity, scavenger workers, mutators, "
        "concurrent sweeping, forced deopts, PCT depth) from ranges a probe run of each scenario measured; "
        "findings carry the drawn knobs and reproduce with them",
    )
    p.add_argument(
        "--log-json", metavar="FILE", help="write campaign events to FILE, one JSON object per line (loguru serialize)"
    )
    p.add_argument(
        "--max-rss",
        type=_count(1),
        metavar="MB",
        help="stop the campaign cleanly when its processes (workers included) use more memory than MB "
        f"(default {default_max_rss_mb()}, half of this machine's)",
    )
    p.add_argument(
        "--progress-interval",
        type=parse_duration,
        default=10.0,
        metavar="DURATION",
        help="when the output is not a terminal, a progress line this often (default 10s)",
    )
    p.add_argument("--quiet", action="store_true", help="no live status line and no progress lines")
    p.epilog = (p.epilog or "") + (
        "\nSIGINT or SIGTERM stops a campaign cleanly (summary, JSON, findings kept); stopped before any finding,"
        "\nit exits 128 + the signal's number (130, 143). A second signal stops at once."
    )
    _add_model_options(p)

    for name in ("scenarios", "faults", "invariants"):
        p = _command(commands, name)
        p.add_argument("--json", metavar="FILE", help="write the table as JSON (- for stdout)")
    return parser


# -- output paths -------------------------------------------------------------------
#
# Output files are opened (created) for writing before anything runs, so an
# unwritable path is bad input (exit 2) rather than a finding lost at the end.
# A write that still fails at the end loses nothing either: the result goes
# to stderr with a one-line note, and the exit status stays what the run found.


class _Outputs:
    """The files this invocation created ahead of its run (removed again if it stops on bad input)."""

    def __init__(self) -> None:
        self.created: list[Path] = []

    def claim_file(self, option: str, path: str | None) -> None:
        if path is None or path == "-":
            return
        _check_output_file(option, path)
        target = Path(path)
        existed = target.exists()
        try:
            with target.open("a"):
                pass
        except OSError as error:
            raise UsageError(f"{option} {path!r} cannot be opened for writing: {error.strerror or error}") from None
        if not existed:
            self.created.append(target)

    def claim_dir(self, option: str, path: str | None) -> None:
        if path is None:
            return
        target = Path(path)
        if target.exists() and not target.is_dir():
            raise UsageError(f"{option} {path!r} exists and is not a directory")
        if not target.exists() and not target.parent.is_dir():
            raise UsageError(f"{option} {path!r}: parent directory does not exist")
        existed = target.exists()
        try:
            target.mkdir(exist_ok=True)
            if not existed:
                self.created.append(target)
            probe = target / f".testbed-probe-{os.getpid()}"
            probe.touch()
            probe.unlink()
        except OSError as error:
            raise UsageError(f"{option} {path!r} is not writable: {error.strerror or error}") from None

    def discard(self) -> None:
        """Remove what :meth:`claim_file` / :meth:`claim_dir` created and nothing has filled."""
        for target in reversed(self.created):
            try:
                if target.is_dir():
                    target.rmdir()  # only if empty
                elif target.stat().st_size == 0:
                    target.unlink()
            except OSError:
                pass
        self.created.clear()


_outputs = _Outputs()


def _check_output_file(option: str, path: str) -> None:
    if not path:
        raise UsageError(f"{option}: output path is empty")
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{option} {path!r} is a directory")
    if not parent.is_dir():
        raise UsageError(f"{option} {path!r}: output directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"{option} {path!r} is not writable")


def _deliver(path: str | Path, text: str) -> str | None:
    """Write ``text`` to ``path`` (atomically: a reader never sees half of it); the reason it failed, or None."""
    try:
        atomic_write(path, text)
    except OSError as error:
        return error.strerror or str(error)
    return None


def _warn(message: str) -> None:
    print(f"testbed: warning: {message}", file=sys.stderr)


def _write_json(path: str | None, data: Any) -> None:
    """The JSON result to ``path`` (``-``: stdout); on a failed write to stderr, after a one-line note."""
    if path is None:
        return
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    reason = _deliver(path, text)
    if reason is not None:
        _warn(f"cannot write --json {path!r} ({reason}); the JSON result follows on stderr")
        sys.stderr.write(text)


def _trace_text(trace: dict[str, Any]) -> str:
    return json.dumps(trace, separators=(",", ":")) + "\n"


# -- commands ---------------------------------------------------------------------------


def _scenario_names(args: argparse.Namespace) -> list[str | None]:
    """``--scenario`` as scenario names (None: no scenario); unknown names fail here."""
    text = args.scenario
    if text is None:
        text = "none" if args.program is not None else DEFAULT_SCENARIO
    if text == "all":
        return list(SCENARIOS)
    names: list[str | None] = [None if n.strip() == "none" else n.strip() for n in text.split(",")]
    for name in names:
        scenario_config(name)  # unknown names fail here, before anything runs
    return names


def _changes(args: argparse.Namespace, scenario: str | None) -> dict[str, Any]:
    """The Config fields the knob options set (``--mutators`` ..., ``--set``, ``--program``)."""
    changes: dict[str, Any] = {name: getattr(args, name) for name in FLAG_FIELDS if getattr(args, name) is not None}
    changes.update(config_changes(scenario_config(scenario, **changes), args.set))
    if args.program is not None:
        changes["program"] = args.program
    return changes


def _config(args: argparse.Namespace) -> Config:
    """The Config of a ``testbed run`` command line."""
    names = _scenario_names(args)
    if len(names) != 1:
        raise UsageError(f"run takes one scenario, got {args.scenario!r}")
    return scenario_config(
        names[0], seed=args.seed, strategy=args.strategy, faults=frozenset(args.fault), **_changes(args, names[0])
    )


def config_from_command(command: str | Sequence[str]) -> Config:
    """The Config a ``testbed run ...`` command line builds (a reproduce command, say).

    Raises :class:`ConfigError` (or ``UsageError``) when it is not one.
    """
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:1] == ["testbed"]:
        words = words[1:]
    if words[:1] != ["run"]:
        raise ConfigError(f"not a `testbed run` command: {command!r}")
    return _config(build_parser().parse_args(_glue_values(words)))


def _label(config: Config) -> str:
    """How a run's scenario is shown: its name, or what it ran without one."""
    label = config.scenario or "none"
    return label if config.program is None else f"{label} (program {config.program_reference})"


def _file_label(config: Config) -> str:
    return config.scenario or ("program" if config.program is not None else "config")


def _validate_model_args(args: argparse.Namespace) -> None:
    """The options run and stress share; the output files are claimed later, once every input passed."""
    validate.strategy(args.strategy)
    if args.strategy == "replay":
        raise UsageError("strategy 'replay' needs a tape: use `testbed replay TRACE`")
    if args.strategy == "hypothesis" and (args.command != "stress" or not args.out):
        raise UsageError("strategy 'hypothesis' needs `stress --out DIR` (its schedules replay only from trace files)")
    validate.fault_names(args.fault, "--fault")


def _violation_lines(violation_json: dict[str, Any]) -> list[str]:
    lines = [
        f"  {violation_json['invariant']}: {violation_json['message']}",
        f"    step {violation_json['step']} on {violation_json['thread'] or '?'}",
    ]
    if violation_json.get("reproduce"):
        lines.append(f"    reproduce: {violation_json['reproduce']}")
    if violation_json.get("trace"):
        lines.append(f"    details: {violation_json['trace']}")
    return lines


def _result_json(
    command: str,
    scenario: str | None,
    program: str | None,
    seed: int,
    strategy: str,
    faults: Sequence[str],
    schedules: int,
    violations: list[dict[str, Any]],
    stats: dict[str, Any],
) -> dict[str, Any]:
    return {
        "schema": RESULT_SCHEMA,
        "testbed_version": __version__,
        "command": command,
        "scenario": scenario,
        "program": program,
        "seed": seed,
        "strategy": strategy,
        "faults": sorted(faults),
        "schedules": schedules,
        "violations": violations,
        "stats": stats,
    }


def _stats_line(stats: dict[str, Any]) -> str:
    """What the run(s) exercised, in one line."""
    return (
        f"{stats.get('safepoints', 0)} safepoints, {stats.get('scavenges', 0)} scavenges "
        f"({stats.get('pause_s', 0.0) * 1e3:.0f} ms paused), {stats.get('copied', 0)} copied, "
        f"{stats.get('promoted', 0)} promoted, {stats.get('steals', 0)} steals, "
        f"{stats.get('forwarding_races_lost', 0)} forwarding races lost, "
        f"{stats.get('store_buffer_flushes', 0)} store-buffer flushes, {stats.get('points', 0)} points, "
        f"peak {stats.get('peak_mutator_threads', 0)} mutator / {stats.get('peak_os_threads', 0)} OS threads"
    )


def cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    _validate_model_args(args)
    if args.trace_out is not None:
        if args.strategy == "free":
            raise UsageError(
                "--trace-out needs a controlled strategy (random, pct, pos, surw, portfolio); free runs cannot be replayed"
            )
        if args.json not in (None, "-") and Path(args.json).resolve() == Path(args.trace_out).resolve():
            raise UsageError(f"--json and --trace-out name the same file {args.trace_out!r}")
    config = _config(args)
    config.program_function()  # exit 2 naming the reference when it does not import
    _outputs.claim_file("--json", args.json)
    _outputs.claim_file("--trace-out", args.trace_out)
    result: RunResult = run(config)
    command = reproduce_command(config)
    trace_path = None
    if args.trace_out is not None and result.trace is not None:
        reason = _deliver(args.trace_out, _trace_text(result.trace))
        if reason is None:
            trace_path = args.trace_out
            if result.violations:
                command = f"testbed replay {shlex.quote(trace_path)}"
        else:
            _warn(f"cannot write --trace-out {args.trace_out!r} ({reason}); reproduce with: {command}")
    violations = []
    for violation in result.violations:
        data = violation.to_json()
        data.update(seed=config.seed, trace=trace_path, reproduce=command)
        violations.append(data)
    stats = result.stats
    print(
        f"testbed run: scenario {_label(config)}, seed {config.seed}, strategy {config.strategy}, "
        f"faults {', '.join(sorted(config.faults)) or 'none'}",
        file=out,
    )
    print(f"  {_stats_line(stats)}; {stats['wall_s']:.2f}s", file=out)
    if args.explain:
        print("\n".join(explain(result.events)), file=out)
    if violations:
        print(f"VIOLATION ({len(violations)}):", file=out)
        for data in violations:
            print("\n".join(_violation_lines(data)), file=out)
    else:
        print("no violations", file=out)
    _write_json(
        args.json,
        _result_json(
            "run",
            config.scenario,
            config.program_reference,
            config.seed,
            config.strategy,
            sorted(config.faults),
            1,
            violations,
            stats,
        ),
    )
    return 1 if violations else 0


class _Status:
    """The live status line of ``stress`` (only on a terminal)."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.last = 0.0
        self.width = 0

    def update(self, result: StressResult, elapsed: float, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < 0.25):
            return
        self.last = now
        stats = result.stats
        line = (
            f"[{elapsed:6.1f}s] schedules {result.schedules}  failing {result.failed_schedules}  "
            f"buckets {len(result.buckets)}  "
            f"scavenges {stats.get('scavenges', 0)}  points {stats.get('points', 0)}"
        )
        self.stream.write("\r" + line.ljust(self.width))
        self.width = len(line)
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def _bucket_lines(bucket_json: dict[str, Any]) -> list[str]:
    """A bucket: its number, count, signature and first seed; then how to rerun its smallest finding."""
    smallest = bucket_json["smallest"]
    lines = [
        f"  [{bucket_json['bucket']}] x{bucket_json['count']} {bucket_json['summary']}; "
        f"first seed {bucket_json['first_seed']}",
        f"    reproduce: {smallest['reproduce']}",
    ]
    if smallest["trace"] and smallest["trace"] not in smallest["reproduce"]:
        lines.append(f"    details: {smallest['trace']}")
    return lines


def _stress_options(args: argparse.Namespace) -> None:
    """The campaign options (bad ones exit 2 before anything runs)."""
    if args.cluster is not None:
        campaign_cluster.validate_address(args.cluster, "--cluster")
        if args.jobs != 1:
            raise UsageError("--cluster and --jobs exclude each other (the cluster's workers run the schedules)")
        if args.strategy == "hypothesis":
            raise UsageError("strategy 'hypothesis' runs in one process: it cannot use --cluster")
        campaign_cluster.require_distributed("--cluster")
    if args.shrink and not args.out:
        raise UsageError("--shrink needs --out DIR (it shrinks the trace kept for each bucket)")
    if args.shrink and args.strategy == "free":
        raise UsageError(
            "--shrink needs a controlled strategy (random, pct, pos, surw, portfolio): free runs have no trace"
        )
    if args.log_json is not None and args.log_json == "-":
        raise UsageError("--log-json needs a file (stdout is for the summary or the --json result)")
    if (
        args.log_json is not None
        and args.json not in (None, "-")
        and Path(args.log_json).resolve() == Path(args.json).resolve()
    ):
        raise UsageError(f"--json and --log-json name the same file {args.json!r}")


def cmd_stress(args: argparse.Namespace, out: TextIO) -> int:
    _validate_model_args(args)
    _stress_options(args)
    scenarios = _scenario_names(args)
    changes = _changes(args, scenarios[0])
    for name in scenarios[1:]:
        if _changes(args, name) != changes:  # --set mix.W=N keeps each scenario's other weights
            raise UsageError("--set mix.WEIGHT takes one scenario (the other weights differ between scenarios)")
    program = changes.pop("program", None)
    if program is not None:
        Config(program=program).program_function()  # exit 2 naming the reference when it does not import
    _outputs.claim_file("--json", args.json)
    _outputs.claim_file("--log-json", args.log_json)
    _outputs.claim_dir("--out", args.out)
    duration = args.duration if args.schedules is None and args.duration is not None else None
    if args.schedules is None and duration is None:
        duration = 20.0
    max_rss = args.max_rss if args.max_rss is not None else default_max_rss_mb()
    label = ",".join(name or "none" for name in scenarios) if args.scenario != "all" else "all"
    program_reference = None if program is None else Config(program=program).program_reference
    status = _Status(sys.stderr, sys.stderr.isatty() and not args.quiet)
    progress: TextIO | None = None
    if not args.quiet:
        progress = out if not out.isatty() else (sys.stderr if not sys.stderr.isatty() else None)
    files = campaign_output.BucketFiles(args.out, RESULT_SCHEMA) if args.out else None
    json_log = _start_json_log(args)
    unwritten: list[str] = []

    def document(result: StressResult, complete: bool) -> dict[str, Any]:
        data = _result_json(
            "stress",
            None if label == "none" else label,
            program_reference,
            args.seed,
            args.strategy,
            args.fault,
            result.schedules,
            [f.to_json() for f in result.findings],
            {**result.stats, "peak_rss_mb": monitor.peak_rss_mb},
        )
        data.update(buckets=result.buckets.to_json(), max_rss_mb=max_rss, stopped=result.stopped, complete=complete)
        data["calibrated"] = result.calibrated
        return data

    def checkpoint(result: StressResult) -> None:
        if args.json not in (None, "-"):
            with contextlib.suppress(OSError):  # the final write says what went wrong
                atomic_write(args.json, json.dumps(document(result, complete=False), indent=2) + "\n")
        if files is not None and result.buckets:
            with contextlib.suppress(OSError):
                files.write_index(result)

    def on_result(result: StressResult, outcome: RunResult) -> None:
        config = outcome.config
        event(
            "schedule",
            "schedule {schedule} (seed {seed}) done",
            "DEBUG",
            schedule=result.schedules,
            seed=config.seed,
            scenario=config.scenario,
            strategy=config.strategy,
            violations=len(outcome.violations),
        )
        if outcome.violations and files is not None:
            try:
                files.update(result, outcome)
            except OSError as error:  # a finding is never lost to a file: it stays in the result
                if not unwritten:
                    _warn(f"cannot write into --out {args.out!r} ({error}); findings keep their reproduce commands")
                unwritten.append(str(error))
        for finding, bucket, what in result.filed:
            event(
                "finding",
                "schedule {schedule} (seed {seed}) found {invariant} (bucket {bucket})",
                "INFO",
                schedule=result.schedules,
                **finding.to_json(),
            )
            if what == "opened":
                event("bucket", "bucket {bucket} opened: {summary}", "INFO", **bucket.to_json())

    stop = StopRequests()
    monitor = Monitor(
        stop,
        max_rss,
        progress,
        args.progress_interval,
        status=lambda result, elapsed: status.update(result, elapsed),
        checkpoint=checkpoint,
        events=lambda record: event("progress", "progress: {schedules} schedules", "DEBUG", **record),
    )
    try:
        with stop:
            result = stress(
                scenarios,
                seed=args.seed,
                schedules=args.schedules,
                duration=duration,
                strategy=args.strategy,
                faults=args.fault,
                overrides=changes,
                program=program,
                jobs=args.jobs,
                cluster=args.cluster,
                on_result=on_result,
                # hypothesis: failures are remembered next to the traces, replayed first by the next campaign
                hypothesis_db=Path(args.out) / "hypothesis-db" if args.out else None,
                monitor=monitor,
                log_level=_LOG_LEVELS.get(args.verbose, "DEBUG"),
                calibrate=args.calibrate,
            )
            status.clear()
            monitor.measure()
            if files is not None and result.buckets:  # a clean campaign leaves --out empty
                with contextlib.suppress(OSError):  # the buckets stay in the summary and the JSON result
                    files.write_index(result)
            if args.shrink and files is not None and result.buckets:
                try:
                    campaign_output.shrink_buckets(
                        result, files, SHRINK_RUNS, lambda: stop.reason is not None, lambda s: print(s, file=out)
                    )
                except KeyboardInterrupt:  # a second signal: the traces stay as found
                    print("shrinking interrupted: the buckets keep their traces as found", file=out)
            stop.finishing = True  # from here on a signal cannot cut the summary or the JSON result short
            return _stress_summary(args, out, result, label, program, document(result, complete=True), stop)
    finally:
        if json_log is not None:
            json_log.close()
            if not args.verbose:
                logger.disable("testbed")


#: loguru levels of the worker processes by -v count
_LOG_LEVELS = {0: None, 1: "INFO"}
#: runs ``--shrink`` may spend on each bucket's trace
SHRINK_RUNS = 200


def _start_json_log(args: argparse.Namespace) -> campaign_output.JsonLog | None:
    """``--log-json FILE``: the campaign's events as JSON lines (loguru is enabled for them)."""
    if args.log_json is None:
        return None
    if not args.verbose:
        logger.remove()  # no stderr sink: only the JSON file hears the library
    logger.enable("testbed")
    return campaign_output.JsonLog(args.log_json)


def _stress_summary(
    args: argparse.Namespace,
    out: TextIO,
    result: StressResult,
    label: str,
    program: str | None,
    document: dict[str, Any],
    stop: StopRequests,
) -> int:
    """The summary (one line per bucket), the JSON result, the summary event; the exit status."""
    stats = result.stats
    stopped = f" (stopped: {result.stopped})" if result.stopped else ""
    print(
        f"testbed stress: scenario {label}"
        + (f", program {Config(program=program).program_reference}" if program is not None else "")
        + f", seed {args.seed}, strategy {args.strategy}, "
        f"faults {', '.join(sorted(args.fault)) or 'none'}" + stopped,
        file=out,
    )
    print(
        f"  {result.schedules} schedules in {result.wall_s:.1f}s, {result.failed_schedules} failing; "
        + _stats_line(stats),
        file=out,
    )
    if result.stopped == "max-rss":
        print(
            f"  warning: stopped early: the campaign's processes used {document['stats']['peak_rss_mb']:.0f} MB, "
            f"more than --max-rss {document['max_rss_mb']}",
            file=out,
        )
    # A check that never ran is not a pass: say which invariants no schedule evaluated.
    never = [name for name, count in stats.get("checks_by_invariant", {}).items() if count == 0]
    if never and result.schedules:
        print(f"  warning: never evaluated in this campaign: {', '.join(never)}", file=out)
    by_invariant: dict[str, int] = {}
    for finding in result.findings:
        by_invariant[finding.violation.invariant] = by_invariant.get(finding.violation.invariant, 0) + 1
    if by_invariant:
        print(
            "  violations by invariant: "
            + ", ".join(f"{name} x{count}" for name, count in sorted(by_invariant.items())),
            file=out,
        )
        print(f"{len(result.buckets)} buckets ({len(result.findings)} findings):", file=out)
        for bucket in document["buckets"]:
            print("\n".join(_bucket_lines(bucket)), file=out)
    else:
        print("no violations", file=out)
    _write_json(args.json, document)
    event(
        "summary",
        "campaign done: {schedules} schedules, {findings} findings in {buckets} buckets",
        "INFO",
        schedules=result.schedules,
        findings=len(result.findings),
        buckets=len(result.buckets),
        stopped=result.stopped,
        wall_s=result.wall_s,
        peak_rss_mb=document["stats"]["peak_rss_mb"],
    )
    if result.findings:
        return 1
    if result.stopped in ("SIGINT", "SIGTERM", "interrupt"):
        return stop.exit_status  # stopped before finding anything: never taken for a pass
    return 0


def _found(violation: dict[str, Any] | None) -> str:
    return "no violation" if violation is None else f"{violation['invariant']} at step {violation['step']}"


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    """Exit 1 when a replay finds a violation (the recorded one or not), 0 when every replay is clean,
    2 when one stops following the trace's tape (nothing printed but the one-line error)."""
    if args.json not in (None, "-"):
        _check_output_file("--json", args.json)
    trace = load_trace(args.trace)
    config = Config.from_json(trace["config"])
    config.program_function()  # exit 2 naming the reference when it does not import
    _outputs.claim_file("--json", args.json)
    try:
        outcome = replay(trace, times=args.times)
    except ReplayDivergedError as error:
        raise UsageError(f"replay of {args.trace} {error}") from None
    recorded = trace["violation"]
    decisions = sum(run[3] for run in trace["tape"])
    print(
        f"testbed replay: {args.trace} (scenario {_label(config)}, seed {config.seed}, "
        f"strategy {trace['strategy']}, {decisions} decisions); expecting {_found(recorded)}",
        file=out,
    )
    print(f"  reproduced {outcome.matches}/{args.times}", file=out)
    for i, result in enumerate(outcome.results):
        got = result.violations[0].to_json() if result.violations else None
        if (None if got is None else (got["invariant"], got["step"])) != outcome.expected:
            print(f"  replay {i + 1} found {_found(got)}, not the recorded {_found(recorded)}", file=out)
    violations = []
    for result in outcome.results[:1]:
        for violation in result.violations:
            data = violation.to_json()
            data.update(seed=config.seed, trace=args.trace, reproduce=f"testbed replay {shlex.quote(args.trace)}")
            violations.append(data)
    document = _result_json(
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
    _write_json(args.json, document)
    return 1 if any(result.violations for result in outcome.results) else 0


def cmd_timeline(args: argparse.Namespace, out: TextIO) -> int:
    _check_output_file("-o", args.output)
    trace = load_trace(args.trace)
    _outputs.claim_file("-o", args.output)
    try:
        count = write_timeline(trace, args.output)
    except OSError as error:
        raise UsageError(f"cannot write -o {args.output!r}: {error.strerror or error}") from None
    print(f"testbed timeline: {count} events from {args.trace} -> {args.output} (open in ui.perfetto.dev)", file=out)
    return 0


def cmd_shrink(args: argparse.Namespace, out: TextIO) -> int:
    _check_output_file("-o", args.output)
    trace = load_trace(args.trace)
    config = Config.from_json(trace["config"])
    config.program_function()  # exit 2 naming the reference when it does not import
    if trace["violation"] is None:
        raise UsageError(f"trace {args.trace!r} records no violation; nothing to shrink")
    _outputs.claim_file("-o", args.output)
    try:
        result = shrink(trace, max_runs=args.max_runs)
    except ReplayDivergedError as error:
        raise UsageError(f"cannot shrink {args.trace}: its replay {error}") from None
    except ValueError as error:
        print(f"testbed shrink: {error}", file=out)
        return 0
    reason = _deliver(args.output, _trace_text(result.trace))
    if reason is not None:
        _warn(f"cannot write -o {args.output!r} ({reason}); the shrunk trace follows on stderr")
        sys.stderr.write(_trace_text(result.trace))
        return 1
    before, after = result.before, result.after
    print(f"testbed shrink: {result.invariant} still reproduces after {result.runs} runs", file=out)
    for key in ("preemptions", "tape_length", "nonzero_decisions", "steps"):
        print(f"  {key:18} {before[key]:>8} -> {after[key]:<8}", file=out)
    print(f"  wrote {args.output}; reproduce: testbed replay {shlex.quote(args.output)}", file=out)
    return 1


def _table(rows: list[list[str]], header: list[str], out: TextIO) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)


def cmd_catalogue(args: argparse.Namespace, out: TextIO) -> int:
    _outputs.claim_file("--json", args.json)
    if args.command == "scenarios":
        data = [
            {"name": s.name, "description": s.description, "aims_at": s.aims_at, "default": s.name == DEFAULT_SCENARIO}
            for s in SCENARIOS.values()
        ]
        _table([[d["name"], d["aims_at"], d["description"]] for d in data], ["scenario", "aims at", "what"], out)
    elif args.command == "faults":
        data = [
            {
                "name": f.name,
                "summary": f.summary,
                "bug": f.bug,
                "caught_by": f.caught_by,
                "scenario": f.scenario,
                "available": f.available,
                "where": f.where,
            }
            for f in FAULTS
        ]
        _table(
            [[d["name"], d["scenario"], d["caught_by"], d["summary"], d["bug"] or "-"] for d in data],
            ["fault", "provoked by", "caught by", "what goes wrong", "V8 bug"],
            out,
        )
    else:
        data = [
            {"name": i.name, "holds": i.holds, "checked_at": i.checked_at, "checked": i.checked} for i in INVARIANTS
        ]
        _table(
            [[d["name"], "yes" if d["checked"] else "no", d["holds"]] for d in data],
            ["invariant", "checked", "holds"],
            out,
        )
    _write_json(args.json, data)
    return 0


#: options whose value may look like an option ("-5s"); glued as --opt=value
_VALUED = (
    "--duration",
    "--seed",
    "--schedules",
    "--mutators",
    "--ops",
    "--jobs",
    "--cluster",
    "--times",
    "--gc-interval",
    "--store-buffer-capacity",
    "--scavenger-workers",
    "--max-runs",
    "--max-rss",
    "--progress-interval",
    "--set",
)


def _glue_values(argv: list[str]) -> list[str]:
    """Let ``--duration -5s`` reach the type check instead of argparse's option lookup."""
    glued: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _VALUED and i + 1 < len(argv) and argv[i + 1].startswith("-") and not argv[i + 1].startswith("--"):
            glued.append(f"{word}={argv[i + 1]}")
            i += 2
            continue
        glued.append(word)
        i += 1
    return glued


def main(argv: Sequence[str] | None = None) -> int:
    """The ``testbed`` command; returns the exit status (bare ``testbed``: the command list, status 2)."""
    parser = build_parser()
    _outputs.created.clear()
    try:
        args = parser.parse_args(_glue_values(list(sys.argv[1:] if argv is None else argv)))
        if args.command is None:
            # No command is bad usage (2), not "no violation" (0): a script that lost its
            # arguments must not pass.  The list of commands is what a person wants to see.
            print(f"{parser.format_usage().rstrip()}\n\n{overview()}", file=sys.stderr)
            return 2
        out = sys.stderr if getattr(args, "json", None) == "-" else sys.stdout
        if getattr(args, "verbose", 0):
            logger.enable("testbed")
            logger.remove()
            logger.add(
                sys.stderr,
                level="DEBUG" if args.verbose > 1 else "INFO",
                format="{time:HH:mm:ss.SSS} {level: <7} {message}",
            )
        if args.command == "run":
            return cmd_run(args, out)
        if args.command == "stress":
            return cmd_stress(args, out)
        if args.command == "replay":
            return cmd_replay(args, out)
        if args.command == "shrink":
            return cmd_shrink(args, out)
        if args.command == "timeline":
            return cmd_timeline(args, out)
        return cmd_catalogue(args, out)
    except (UsageError, ConfigError, UnknownFault, UnknownScenario, UnknownStrategy, TraceError) as error:
        _outputs.discard()
        print(f"testbed: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1
