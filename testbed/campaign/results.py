"""What a campaign found: each schedule's findings, filed into buckets, and the summed stats.

A :class:`StressResult` adds each schedule's :class:`~testbed.api.RunResult`
as it is recorded: counters are summed over schedules (nested ones by key),
peaks are maxima, and every violation becomes a :class:`Finding` filed into
its bucket (:mod:`testbed.campaign.buckets`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from testbed.calibrate import KNOBS
from testbed.campaign.buckets import Bucket, Buckets
from testbed.execute import RunResult
from testbed.sched import Violation

__all__ = ["Finding", "StressResult"]


@dataclasses.dataclass
class Finding:
    """A violation found by one schedule of a stress run."""

    violation: Violation
    scenario: str | None
    seed: int
    reproduce: str
    trace_path: str | None = None
    #: the number of its bucket in :attr:`StressResult.buckets` (1-based; 0: not filed)
    bucket: int = 0
    #: a calibrated campaign's drawn knobs of this schedule (:data:`testbed.calibrate.KNOBS`), else None
    knobs: dict[str, Any] | None = None
    #: a free schedule's kept trace file (``--out``; ``trace`` is then the pinned one, if pinned)
    free_trace: str | None = None
    #: for a free finding of a pinning campaign: whether its bucket's trace pinned it, and if not, what to do
    pinned: bool | None = None
    pin_note: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.violation.to_json()
        data.update(
            scenario=self.scenario, seed=self.seed, trace=self.trace_path, reproduce=self.reproduce, bucket=self.bucket
        )
        if self.knobs is not None:
            data["knobs"] = self.knobs
        if self.free_trace is not None:
            data["free_trace"] = self.free_trace
        if self.pinned is not None:
            data["pinned"] = self.pinned
        if self.pin_note is not None:
            data["pin_note"] = self.pin_note
        return data


#: stats that are summed over schedules; the rest are maxima
_MAXIMA = ("peak_mutator_threads", "peak_os_threads", "process_peak_rss_mb")


def _add_counters(into: dict[str, Any], counters: dict[str, Any]) -> None:
    """Sum nested counter maps (``checks_by_invariant``, ``per_worker``: {task: {counter: n}})."""
    for key, value in counters.items():
        if isinstance(value, dict):
            _add_counters(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value


@dataclasses.dataclass
class StressResult:
    scenarios: list[str | None]
    seed: int
    strategy: str
    faults: frozenset[str]
    schedules: int = 0
    failed_schedules: int = 0
    findings: list[Finding] = dataclasses.field(default_factory=list)
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    wall_s: float = 0.0
    interrupted: bool = False
    #: why the campaign stopped before its budget (``SIGINT``, ``SIGTERM``, ``max-rss``, ``interrupt``,
    #: ``worker lost (...)``, ``cluster lost (...)``), ``duration`` when its time ended before the first
    #: schedule finished (``schedules == 0``: nothing ran), or None
    stopped: str | None = None
    #: findings grouped by signature, in the order the buckets opened
    buckets: Buckets = dataclasses.field(default_factory=Buckets)
    #: what the last :meth:`add` filed: ``(finding, bucket, "opened" | "smaller" | "counted")``
    filed: list[tuple[Finding, Bucket, str]] = dataclasses.field(default_factory=list)
    #: schedules cut at the deadline while still progressing (not violations, not counted in ``schedules``):
    #: ``{scenario, seed, strategy, ran_s, points, reproduce}`` each (a stuck one is a safepoint-liveness finding)
    cut: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: whether each schedule drew its knobs (``stress(calibrate=True)``): findings then carry them
    calibrated: bool = False

    def add(self, result: RunResult, reproduce: str) -> None:
        self.schedules += 1
        for key, value in result.stats.items():
            if key in _MAXIMA:
                self.stats[key] = max(self.stats.get(key, 0), value)
            elif isinstance(value, dict):
                _add_counters(self.stats.setdefault(key, {}), value)
            else:
                self.stats[key] = self.stats.get(key, 0) + value
        if result.violations:
            self.failed_schedules += 1
        self.filed = []
        knobs = {name: getattr(result.config, name) for name in KNOBS} if self.calibrated else None
        for violation in result.violations:
            finding = Finding(violation, result.config.scenario, result.config.seed, reproduce, knobs=knobs)
            bucket, what = self.buckets.add(finding, result.events, result.stats.get("preemptions", 0))
            finding.bucket = bucket.number
            if what != "counted" and bucket.smallest is finding:
                # Pinning starts from the kept finding's free trace (a controlled schedule has none).
                free = result.trace is not None and result.trace.get("kind") == "free"
                bucket.free_trace = result.trace if free else None
            self.findings.append(finding)
            self.filed.append((finding, bucket, what))

    @property
    def ok(self) -> bool:
        return not self.findings
