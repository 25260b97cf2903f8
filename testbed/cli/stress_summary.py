"""What ``testbed stress`` shows: the live status line while it runs, the summary when it ends."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from testbed.campaign.driver import StressResult
from testbed.campaign.monitor import StopRequests
from testbed.campaign.output import event
from testbed.cli import output

__all__ = ["Status", "stress_summary"]


class Status:
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
    if smallest.get("free_trace"):
        lines.append(f"    free trace: {smallest['free_trace']}")
    pin = bucket_json.get("pin")
    if pin is not None and not pin["pinned"]:
        budget = f"{pin['schedules']} schedules" + (" (cut by the time cap)" if pin["cut"] else "")
        where = smallest["trace"] or "TRACE"
        lines.append(f"    not pinned within {budget}; `testbed pin {where} --budget 500` tries harder")
    return lines


def _header(args: argparse.Namespace, result: StressResult, label: str, program: str | None) -> list[str]:
    """What ran (scenarios, program, seed, strategy, faults, why it stopped) and what it exercised."""
    stopped = f" (stopped: {result.stopped})" if result.stopped else ""
    return [
        f"testbed stress: scenario {label}"
        + (f", program {program}" if program is not None else "")
        + f", seed {args.seed}, strategy {args.strategy}, "
        f"faults {', '.join(sorted(args.fault)) or 'none'}" + stopped,
        f"  {result.schedules} schedules in {result.wall_s:.1f}s, {result.failed_schedules} failing; "
        + output.stats_line(result.stats),
    ]


def _warnings(result: StressResult, document: dict[str, Any]) -> list[str]:
    lines = [
        f"  cut at the deadline, still progressing (not a violation): seed {cut['seed']} after {cut['ran_s']:g}s "
        f"({cut['points']} points); rerun it alone: {cut['reproduce']}"
        for cut in result.cut
    ]
    if result.stopped == "max-rss":
        lines.append(
            f"  warning: stopped early: the campaign's processes used {document['stats']['campaign_peak_rss_mb']:.0f} MB, "
            f"more than --max-rss {document['max_rss_limit_mb']}"
        )
    never = output.never_evaluated(result.stats, "this campaign")
    if never is not None and result.schedules:
        lines.append(never)
    return lines


def _findings(result: StressResult, document: dict[str, Any]) -> list[str]:
    """Violations by invariant, then one entry per bucket; or that there were none."""
    by_invariant: dict[str, int] = {}
    for finding in result.findings:
        by_invariant[finding.violation.invariant] = by_invariant.get(finding.violation.invariant, 0) + 1
    if not by_invariant:
        return ["no violations"]
    lines = [
        "  violations by invariant: " + ", ".join(f"{name} x{count}" for name, count in sorted(by_invariant.items())),
        f"{len(result.buckets)} buckets ({len(result.findings)} findings):",
    ]
    for bucket in document["buckets"]:
        lines += _bucket_lines(bucket)
    return lines


#: stops by a signal: the exit status is the signal's, whatever ran
_SIGNALLED = ("SIGINT", "SIGTERM", "interrupt")


def nothing_ran(args: argparse.Namespace, result: StressResult, document: dict[str, Any]) -> str | None:
    """Why a campaign completed no schedule (it is no pass), or None when one did (or a signal stopped it)."""
    if result.schedules or result.stopped in _SIGNALLED:
        return None
    if result.stopped == "max-rss":
        return (
            f"the memory limit was already exceeded (the campaign's processes used "
            f"{document['stats']['campaign_peak_rss_mb']:.0f} MB, more than --max-rss {document['max_rss_limit_mb']})"
        )
    if result.stopped == "duration":
        budget = "the time budget" if args.duration is None else f"the duration ({args.duration:g}s)"
        why = f"{budget} ended before the first schedule finished"
        for cut in result.cut:
            why += f"; seed {cut['seed']} was cut after {cut['ran_s']:g}s, still progressing: {cut['reproduce']}"
        return why
    return f"the campaign stopped before the first schedule finished ({result.stopped})"


def stress_summary(
    args: argparse.Namespace,
    out: TextIO,
    result: StressResult,
    label: str,
    program: str | None,
    document: dict[str, Any],
    stop: StopRequests,
) -> int:
    """The summary (one line per bucket), the JSON result, the summary event; the exit status.

    ``program`` is the custom program's reference (None: the standard program).
    """
    why = document["nothing_ran"] = nothing_ran(args, result, document)
    if why is not None:  # one line, as for bad input: a campaign that checked nothing is no pass
        print(f"testbed: error: nothing ran: {why}", file=sys.stderr)
    else:
        lines = _header(args, result, label, program) + _warnings(result, document) + _findings(result, document)
        print("\n".join(lines), file=out)
    output.write_json(args.json, document)
    event(
        "summary",
        "campaign done: {schedules} schedules, {findings} findings in {buckets} buckets",
        "INFO",
        schedules=result.schedules,
        findings=len(result.findings),
        buckets=len(result.buckets),
        stopped=result.stopped,
        wall_s=result.wall_s,
        campaign_peak_rss_mb=document["stats"]["campaign_peak_rss_mb"],
    )
    if result.findings:
        return 1
    if why is not None:
        return 2
    if result.stopped in _SIGNALLED:
        return stop.exit_status  # stopped before finding anything: never taken for a pass
    return 0
