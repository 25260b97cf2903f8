"""``testbed stress``: a campaign of schedules with derived seeds, its findings filed into buckets.

The command checks every input before the first schedule (exit 2), claims
its output files, runs :func:`testbed.stress` under a
:class:`~testbed.campaign.monitor.Monitor` (stop requests, the memory
guard, progress, checkpoints), keeps one trace per bucket under ``--out``
and prints the summary (:mod:`testbed.cli.stress_summary`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from loguru import logger

from testbed.campaign import cluster as campaign_cluster
from testbed.campaign import output as campaign_output
from testbed.campaign.driver import StressResult, stress
from testbed.campaign.monitor import Monitor, StopRequests, default_max_rss_mb
from testbed.campaign.output import event
from testbed.campaign.pins import pin_buckets
from testbed.cli import output
from testbed.cli.arguments import (
    UsageError,
    add_command,
    add_model_options,
    count,
    model_changes,
    parse_duration,
    scenario_names,
    validate_model_args,
)
from testbed.cli.stress_summary import Status, stress_summary
from testbed.execute import RunResult
from testbed.pinning import DEFAULT_PIN_BUDGET
from testbed.runtime import Config
from testbed.scenarios import DEFAULT_SCENARIO

__all__ = ["SHRINK_RUNS", "add_parser", "cmd_stress"]

#: loguru levels of the worker processes by -v count
_LOG_LEVELS = {0: None, 1: "INFO"}
#: runs ``--shrink`` may spend on each bucket's trace
SHRINK_RUNS = 200
#: the time budget when neither --duration nor --schedules is given
DEFAULT_DURATION = 20.0


def add_parser(commands: Any) -> None:
    p = add_command(commands, "stress")
    p.add_argument(
        "--scenario",
        help="scenario name, comma-separated names (round robin), `all`, or `none` for Config's own defaults "
        f"(default {DEFAULT_SCENARIO}; none with --program)",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--duration",
        type=parse_duration,
        help="time budget of the whole campaign, e.g. 30s (default 20s): a schedule still running at its end is "
        "cut (stuck: a safepoint-liveness finding; else listed as cut); none completed: exit 2",
    )
    budget.add_argument("--schedules", type=count(1), help="number of schedules")
    p.add_argument("--jobs", type=count(1), default=1, help="worker processes (default 1)")
    p.add_argument(
        "--cluster",
        metavar="tcp://HOST:PORT",
        help="run the schedules on this Dask distributed cluster instead of local processes (needs "
        "pip install 'testbed[cluster]'; same seeds and results as a local campaign), e.g. "
        "--cluster tcp://10.0.0.5:8786 after `dask scheduler` and `dask worker tcp://10.0.0.5:8786 --nthreads 1`",
    )
    _add_output_options(p)
    p.epilog = (p.epilog or "") + (
        "\nSIGINT or SIGTERM stops a campaign cleanly (summary, JSON, findings kept); stopped before any finding,"
        "\nit exits 128 + the signal's number (130, 143). A second signal stops at once."
    )
    add_model_options(p)


def _add_output_options(p: argparse.ArgumentParser) -> None:
    """Where findings go (``--out``, ``--shrink``, ``--log-json``), ``--calibrate``, and the campaign's watch."""
    p.add_argument(
        "--out",
        metavar="DIR",
        help="keep one trace per bucket of findings (its smallest: fewest preemptions, then earliest step) "
        "in DIR, with an index.json (a reused DIR loses an earlier campaign's index and traces; its "
        "hypothesis-db stays)",
    )
    p.add_argument("--shrink", action="store_true", help="at the end, shrink each bucket's trace in --out DIR")
    p.add_argument(
        "--pin-budget",
        type=count(0),
        default=DEFAULT_PIN_BUDGET,
        metavar="N",
        help=f"after the schedules, pin each bucket of free findings to a controlled trace that replays it, "
        f"within N schedules (default {DEFAULT_PIN_BUDGET}; 0: do not pin)",
    )
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
        type=count(1),
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
    if args.shrink and args.strategy == "free" and not args.pin_budget:
        raise UsageError(
            "--shrink needs controlled traces: a controlled strategy (random, pct, pos, surw, portfolio), "
            "or free findings pinned (--pin-budget above 0)"
        )
    if args.log_json is not None and args.log_json == "-":
        raise UsageError("--log-json needs a file (stdout is for the summary or the --json result)")
    if (
        args.log_json is not None
        and args.json not in (None, "-")
        and Path(args.log_json).resolve() == Path(args.json).resolve()
    ):
        raise UsageError(f"--json and --log-json name the same file {args.json!r}")


def _campaign_inputs(args: argparse.Namespace) -> tuple[list[str | None], dict[str, Any], str | None]:
    """The scenarios, the config changes every scenario gets, and the custom program (checked: it imports)."""
    scenarios = scenario_names(args)
    changes = model_changes(args, scenarios[0])
    for name in scenarios[1:]:
        if model_changes(args, name) != changes:  # --set mix.W=N keeps each scenario's other weights
            raise UsageError("--set mix.WEIGHT takes one scenario (the other weights differ between scenarios)")
    program = changes.pop("program", None)
    if program is not None:
        Config(program=program).program_function()  # exit 2 naming the reference when it does not import
    return scenarios, changes, program


def _duration(args: argparse.Namespace) -> float | None:
    """The time budget: ``--duration``, none with ``--schedules``, else the default."""
    if args.schedules is not None:
        return None
    return args.duration if args.duration is not None else DEFAULT_DURATION


def _start_json_log(args: argparse.Namespace) -> campaign_output.JsonLog | None:
    """``--log-json FILE``: the campaign's events as JSON lines (loguru is enabled for them)."""
    if args.log_json is None:
        return None
    if not args.verbose:
        logger.remove()  # no stderr sink: only the JSON file hears the library
    logger.enable("testbed")
    return campaign_output.JsonLog(args.log_json, output.warn)


class _Reporter:
    """What the running campaign writes: the result document, its checkpoints, bucket files and events."""

    def __init__(self, args: argparse.Namespace, label: str, program_reference: str | None, max_rss: int) -> None:
        self.args = args
        self.label = label
        self.program_reference = program_reference
        self.max_rss = max_rss
        self.files = campaign_output.BucketFiles(args.out, output.RESULT_SCHEMA) if args.out else None
        #: the errors of writes into --out (the first one is reported)
        self.unwritten: list[str] = []
        self.monitor: Monitor | None = None

    def document(self, result: StressResult, complete: bool) -> dict[str, Any]:
        """The ``--json`` result: complete at the end, a checkpoint before."""
        assert self.monitor is not None, "the monitor is set up before the campaign starts"
        data = output.result_json(
            "stress",
            None if self.label == "none" else self.label,
            self.program_reference,
            self.args.seed,
            self.args.strategy,
            self.args.fault,
            result.schedules,
            [f.to_json() for f in result.findings],
            {**result.stats, "campaign_peak_rss_mb": self.monitor.peak_rss_mb},
        )
        data.update(buckets=result.buckets.to_json(), max_rss_limit_mb=self.max_rss, stopped=result.stopped)
        data.update(complete=complete, calibrated=result.calibrated, cut=result.cut, nothing_ran=None)
        return data

    def checkpoint(self, result: StressResult) -> None:
        """The JSON result and the bucket index so far (a failed write here is retried by the next one)."""
        if self.args.json not in (None, "-"):
            output.deliver(self.args.json, json.dumps(self.document(result, complete=False), indent=2) + "\n")
        if self.files is not None and result.buckets:
            with contextlib.suppress(OSError):
                self.files.write_index(result)

    def on_result(self, result: StressResult, outcome: RunResult) -> None:
        """After each schedule: its event, its findings' trace files under --out, their events."""
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
        if outcome.violations and self.files is not None:
            try:
                self.files.update(result, outcome)
            except OSError as error:  # a finding is never lost to a file: it stays in the result
                if not self.unwritten:
                    output.warn(
                        f"cannot write into --out {self.args.out!r} ({error}); findings keep their reproduce commands"
                    )
                self.unwritten.append(str(error))
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


def _clear_out(reporter: _Reporter) -> None:
    """A reused ``--out`` holds only this campaign's index and traces: say what of an earlier one it replaced."""
    if reporter.files is None:
        return
    try:
        had_index, traces = reporter.files.clear_earlier()
    except OSError as error:
        raise UsageError(f"--out {reporter.args.out!r}: cannot remove an earlier campaign's files: {error}") from None
    parts = [f"{traces} trace{'s' if traces != 1 else ''}"] if traces else []
    if had_index:
        parts.append("the index")
    if parts:
        print(f"testbed: replaced {' and '.join(parts)} of an earlier campaign in {reporter.args.out}", file=sys.stderr)


def _monitor(args: argparse.Namespace, out: TextIO, stop: StopRequests, reporter: _Reporter, status: Status) -> Monitor:
    """The campaign's watch: stop requests, ``--max-rss``, progress lines, the status line, checkpoints."""
    progress: TextIO | None = None
    if not args.quiet:
        progress = out if not out.isatty() else (sys.stderr if not sys.stderr.isatty() else None)
    monitor = Monitor(
        stop,
        reporter.max_rss,
        progress,
        args.progress_interval,
        status=lambda result, elapsed: status.update(result, elapsed),
        checkpoint=reporter.checkpoint,
        events=lambda record: event("progress", "progress: {schedules} schedules", "DEBUG", **record),
    )
    reporter.monitor = monitor
    return monitor


def _pin_buckets(out: TextIO, result: StressResult, reporter: _Reporter, stop: StopRequests) -> None:
    """``--pin-budget N``: each bucket of free findings pinned; the pinned trace written into --out."""
    budget = reporter.args.pin_budget
    if not budget or not any(bucket.free_trace is not None for bucket in result.buckets):
        return
    files = reporter.files

    def pinned(bucket: Any) -> None:
        if files is not None:
            try:
                files.pinned(result, bucket)
            except OSError as error:
                output.warn(f"cannot write the pinned trace of bucket {bucket.number} into --out ({error})")
        pin = bucket.pin
        what = f"pinned in {pin['schedules']} schedule(s) ({pin['how']})" if pin["pinned"] else "not pinned"
        print(f"bucket {bucket.number}: {what}, {pin['seconds']:.1f}s" + (" (cut)" if pin["cut"] else ""), file=out)

    try:
        # A command line's program is a reference: pinning imports it again from the trace.
        pin_buckets(result, budget, None, lambda: stop.reason is not None, pinned)
    except KeyboardInterrupt:  # a second signal: the rest stay as found
        print("pinning interrupted: the remaining buckets keep their free traces", file=out)


def _shrink_buckets(out: TextIO, result: StressResult, reporter: _Reporter, stop: StopRequests) -> None:
    """The bucket index under --out, and with --shrink each bucket's trace shrunk."""
    files = reporter.files
    if files is None or not result.buckets:  # a clean campaign leaves --out empty
        return
    with contextlib.suppress(OSError):  # the buckets stay in the summary and the JSON result
        files.write_index(result)
    if reporter.args.shrink:
        try:
            campaign_output.shrink_buckets(
                result, files, SHRINK_RUNS, lambda: stop.reason is not None, lambda s: print(s, file=out)
            )
        except KeyboardInterrupt:  # a second signal: the traces stay as found
            print("shrinking interrupted: the buckets keep their traces as found", file=out)


def _campaign(
    args: argparse.Namespace, inputs: tuple[list[str | None], dict[str, Any], str | None], reporter: _Reporter
) -> StressResult:
    """:func:`testbed.stress` with the command line's arguments."""
    scenarios, changes, program = inputs
    assert reporter.monitor is not None
    return stress(
        scenarios,
        seed=args.seed,
        schedules=args.schedules,
        duration=_duration(args),
        strategy=args.strategy,
        faults=args.fault,
        overrides=changes,
        program=program,
        jobs=args.jobs,
        cluster=args.cluster,
        on_result=reporter.on_result,
        # hypothesis: failures are remembered next to the traces, replayed first by the next campaign
        hypothesis_db=Path(args.out) / "hypothesis-db" if args.out else None,
        monitor=reporter.monitor,
        log_level=_LOG_LEVELS.get(args.verbose, "DEBUG"),
        calibrate=args.calibrate,
    )


def cmd_stress(args: argparse.Namespace, out: TextIO) -> int:
    validate_model_args(args)
    _stress_options(args)
    inputs = scenarios, _, program = _campaign_inputs(args)
    output.outputs.claim_file("--json", args.json)
    output.outputs.claim_file("--log-json", args.log_json)
    output.outputs.claim_dir("--out", args.out)
    max_rss = args.max_rss if args.max_rss is not None else default_max_rss_mb()
    label = ",".join(name or "none" for name in scenarios) if args.scenario != "all" else "all"
    program_reference = None if program is None else Config(program=program).program_reference
    reporter = _Reporter(args, label, program_reference, max_rss)
    _clear_out(reporter)
    json_log = _start_json_log(args)
    status = Status(sys.stderr, sys.stderr.isatty() and not args.quiet)
    stop = StopRequests()
    monitor = _monitor(args, out, stop, reporter, status)
    try:
        with stop:
            result = _campaign(args, inputs, reporter)
            status.clear()
            monitor.measure()
            _pin_buckets(out, result, reporter, stop)
            _shrink_buckets(out, result, reporter, stop)
            stop.finishing = True  # from here on a signal cannot cut the summary or the JSON result short
            document = reporter.document(result, complete=True)
            return stress_summary(args, out, result, label, program_reference, document, stop)
    finally:
        if json_log is not None:
            json_log.close()
            if not args.verbose:
                logger.disable("testbed")
