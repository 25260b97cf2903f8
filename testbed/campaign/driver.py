"""The campaign driver: ``stress``, schedules with derived seeds until a count or a time budget.

Schedule ``i`` uses scenario ``scenarios[i % len(scenarios)]`` and seed
``derive_seed(seed, 2, i)``, so a stress run is itself reproducible
schedule by schedule.  With ``strategy="portfolio"`` schedule ``i`` runs
``PORTFOLIO[i % len(PORTFOLIO)]``; its config (so its trace and its
reproduce command) names that member.  PCT's horizon is measured once per
scenario (:func:`~testbed.probes.pct_horizon`, with the seed of the
scenario's first PCT schedule) and set in every PCT schedule's config.
With ``jobs > 1`` schedules run in that many worker processes (one run at
a time per process, because the scheduler is process-wide; see
:mod:`testbed.campaign.processes`); results are still added in schedule
order.  ``on_result`` is called after each schedule (for progress display
and for writing violation files).  A KeyboardInterrupt stops the run early
and keeps everything found so far.

A scenario ``None`` is ``Config``'s own defaults; ``overrides`` are Config
fields set on every scenario's config; ``program`` is a custom workload (a
function, or a reference; worker processes import it by reference, so
with ``jobs > 1`` it must be importable).  With ``strategy="hypothesis"``
the search is Hypothesis' (:mod:`testbed.campaign.hypothesis_campaign`)
and ``hypothesis_db`` is the example database (a directory, a Hypothesis
``ExampleDatabase``, or None for none) that remembers failures for the
next campaign.

``duration`` bounds the whole campaign: a schedule still running when it
ends is cut there (:mod:`testbed.campaign.deadline`; not on a cluster,
nor with Hypothesis): a stuck one (no scheduling point for its liveness
timeout) is a ``safepoint-liveness`` finding with every thread's stack, a
progressing one is no violation and is listed in ``result.cut``.  A
campaign that completed no schedule is not a pass: ``result.schedules``
is 0 and ``result.stopped`` says why (``duration``: the time ended before
the first schedule finished; ``max-rss``: the memory limit was already
passed; ...).  It is returned, not raised: the caller decides (the CLI
exits 2).

``monitor(result)`` is called after every schedule, and at least every
quarter second while a schedule runs (here or in worker processes); a reason it returns (``"SIGTERM"``,
``"max-rss"``) stops the campaign cleanly: no new schedule starts, the
ones running finish and are recorded, and ``result.stopped`` is the
reason.  ``log_level`` (``"INFO"``, ``"DEBUG"``) makes worker processes
log to stderr through loguru at that level (None: they stay silent).
Findings are filed into ``result.buckets`` by signature
(:mod:`testbed.campaign.buckets`).  With ``pin=N``, after the schedules,
each bucket of free findings is pinned (:mod:`testbed.campaign.pins`):
its kept free trace becomes a controlled trace that replays the finding.

``calibrate=True`` draws each schedule's knobs (:mod:`testbed.calibrate`):
the first round of schedules runs each scenario as it is, then one probe
run per scenario measures it, and schedule ``i`` draws gc interval,
store-buffer capacity, scavenger workers, mutators, concurrent sweeping,
forced deopts and PCT depth from the campaign seed and ``i``.  The knobs
are fields of the schedule's config (its trace and reproduce command rerun
it) and each finding carries them (``knobs``).  A PCT schedule then
measures its own horizon (the knobs change the run's length).

``cluster="tcp://HOST:PORT"`` runs the schedules on that Dask distributed
cluster instead (the ``testbed[cluster]`` extra; workers import testbed,
and ``program`` by reference), with the same seeds and results as a local
campaign (:mod:`testbed.campaign.cluster`); no scheduler answering is a
ConfigError.  ``monitor`` measures memory on this machine only.
"""

from __future__ import annotations

import concurrent.futures
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from testbed import validate
from testbed.api import run
from testbed.calibrate import Calibration, calibration, knob_rng
from testbed.campaign import cluster as campaign_cluster
from testbed.campaign.arguments import campaign_options, campaign_program, stress_arguments
from testbed.campaign.database import HYPOTHESIS_DB
from testbed.campaign.deadline import Cut, bounded_run
from testbed.campaign.hypothesis_campaign import stress_with_hypothesis
from testbed.campaign.main_guard import unguarded_script
from testbed.campaign.pins import pin_buckets
from testbed.campaign.processes import run_in_processes
from testbed.campaign.results import Finding, StressResult
from testbed.execute import RunResult
from testbed.probes import pct_horizon, portfolio_member
from testbed.reproduce import reproduce_command
from testbed.runtime import Config, ConfigError, Program, derive_seed
from testbed.scenarios import DEFAULT_SCENARIO, scenario_config
from testbed.sched import RunActive

__all__ = ["HYPOTHESIS_DB", "Finding", "StressResult", "stress"]


class _Campaign:
    """One running campaign: its budget, each schedule's config, and what it recorded."""

    def __init__(
        self,
        configs: list[Config],
        seed: int,
        budget: tuple[int | None, float | None],
        calibrate: bool,
        monitor: Callable[[StressResult], str | None] | None,
        on_result: Callable[[StressResult, RunResult], None] | None,
        result: StressResult,
    ) -> None:
        self.configs = configs
        self.seed = seed
        self.schedules, self.duration = budget
        self.calibrate = calibrate
        self.monitor = monitor
        self.on_result = on_result
        self.result = result
        self.started = time.monotonic()
        #: when ``duration`` ends (a schedule still running then is cut; see :mod:`testbed.campaign.deadline`)
        self.deadline = None if self.duration is None else self.started + self.duration
        #: per scenario (its index): PCT's horizon, the calibration, the first schedule's config
        self.horizons: dict[int, int] = {}
        self.calibrations: dict[int, Calibration] = {}
        self.firsts: dict[int, Config] = {}

    def budget_left(self, index: int) -> bool:
        if self.result.stopped is not None:
            return False
        if self.schedules is not None and index >= self.schedules:
            return False
        return self.duration is None or time.monotonic() - self.started < self.duration

    def schedule(self, index: int) -> Config:
        """The config of schedule ``index``: its scenario, seed, member strategy, drawn knobs and horizon."""
        which = index % len(self.configs)
        config = self.configs[which].replace(seed=derive_seed(self.seed, 2, index) % 2**32)
        if config.strategy == "portfolio":
            config = config.replace(strategy=portfolio_member(index))
        drawn = self.calibrate and index >= len(self.configs)
        if self.calibrate and not drawn:
            # The first round runs each scenario as it is, before any probe
            # (so a fault the scenario finds at once costs no probe first).
            self.firsts[which] = config
        elif drawn:
            # One probe per scenario (of its first schedule's config, as numfuzz
            # analyses a test once), then this schedule's own draw.
            if which not in self.calibrations:
                self.calibrations[which] = calibration(self.firsts[which])
            config = self.calibrations[which].draw(config, knob_rng(self.seed, index))
        if config.strategy == "pct" and config.pct_horizon == 0:
            config = config.replace(pct_horizon=self._horizon(config, which, drawn))
        return config

    def _horizon(self, config: Config, which: int, drawn: bool) -> int:
        """PCT's horizon for a schedule of scenario ``which``.

        The horizon is in each schedule's config, so its reproduce command
        reruns it without a probe.  Drawn knobs change a run's length, so a
        calibrated schedule measures its own; otherwise one probe per
        scenario, with the seed of its first PCT schedule, is enough (a
        scenario's run length varies by a few percent between workload
        seeds, and PCT needs the order of magnitude).
        """
        if drawn:
            return pct_horizon(config)
        if which not in self.horizons:
            self.horizons[which] = pct_horizon(config)
        return self.horizons[which]

    def watch(self) -> str | None:
        if self.monitor is not None and self.result.stopped is None:
            self.result.stopped = self.monitor(self.result)
        return self.result.stopped

    def stopping(self) -> bool:
        return self.watch() is not None

    def record(self, outcome: RunResult | Cut | None) -> None:
        """A schedule's outcome; a cut one (a stuck one is a finding), or None for one never started."""
        if outcome is None:
            return
        if isinstance(outcome, Cut):
            if outcome.violation is None:  # slow, not stuck: not a violation, and not a schedule that ran
                self.result.cut.append(outcome.to_json(reproduce_command(outcome.config)))
                self.watch()
                return
            outcome = outcome.as_result()
        self.result.add(outcome, reproduce_command(outcome.config))
        if self.on_result is not None:
            self.on_result(self.result, outcome)
        self.watch()

    def lost(self, what: str, error: BaseException) -> None:
        """Workers or the cluster cannot go on: keep what was found, say why it stopped."""
        monitored = self.monitor(self.result) if self.monitor is not None else None
        self.result.stopped = monitored or f"{what} lost ({error})"

    def run(self, jobs: int, cluster: str | None, hypothesis_db: Any, log_level: str | None) -> None:
        """Run schedules while the budget lasts: here, in worker processes, on a cluster, or Hypothesis'."""
        try:
            self.watch()
            if self.result.strategy == "hypothesis":
                stress_with_hypothesis(
                    self.configs, self.seed, self.schedules, self.duration, self.record, hypothesis_db, self.stopping
                )
            elif cluster is not None:
                ends_at = None if self.duration is None else self.started + self.duration
                campaign_cluster.run_on_cluster(
                    cluster,
                    _run_shipped,
                    self.schedule,
                    self.budget_left,
                    self.record,
                    self.stopping,
                    log_level,
                    ends_at=ends_at,
                )
            elif jobs == 1:
                index = 0
                while self.budget_left(index):
                    self.record(bounded_run(self.schedule(index), self.deadline, run, self.watch))
                    index += 1
            else:
                runner = functools.partial(_run_shipped, deadline=self.deadline)
                run_in_processes(jobs, runner, self.schedule, self.budget_left, self.record, self.stopping, log_level)
        except KeyboardInterrupt:
            self.result.stopped = self.result.stopped or "interrupt"
        except RunActive as error:  # a stuck schedule of an earlier campaign in this process holds on
            self.result.stopped = self.result.stopped or str(error)
        except concurrent.futures.BrokenExecutor as error:  # a worker died (the OOM killer)
            self.lost("worker", error)
        except campaign_cluster.ClusterLost as error:
            self.lost("cluster", error)
        if self.result.schedules == 0 and self.result.stopped is None and self.duration is not None:
            self.result.stopped = "duration"  # it ended before the first schedule finished: nothing ran
        self.result.interrupted = self.result.stopped is not None
        self.result.wall_s = round(time.monotonic() - self.started, 3)


def stress(
    scenarios: Sequence[str | None] = (DEFAULT_SCENARIO,),
    *,
    seed: int = 0,
    schedules: int | None = None,
    duration: float | None = None,
    strategy: str = "free",
    faults: Sequence[str] = (),
    overrides: dict[str, Any] | None = None,
    program: Program | None = None,
    jobs: int = 1,
    on_result: Callable[[StressResult, RunResult], None] | None = None,
    hypothesis_db: Any = HYPOTHESIS_DB,
    monitor: Callable[[StressResult], str | None] | None = None,
    log_level: str | None = None,
    calibrate: bool = False,
    cluster: str | None = None,
    pin: int = 0,
) -> StressResult:
    """Run schedules with derived seeds until ``schedules`` or ``duration`` seconds.

    Schedule ``i`` runs scenario ``scenarios[i % len(scenarios)]`` with seed
    ``derive_seed(seed, 2, i)``; the default is the catalogue's
    :data:`~testbed.scenarios.DEFAULT_SCENARIO` (``waltz``), as for ``testbed
    stress`` (with a ``program``, ``[None]`` runs it on Config's own defaults,
    as ``testbed stress --program`` does); ``jobs``, ``cluster``, ``monitor``,
    ``calibrate``, ``hypothesis_db`` and the rest: see
    :mod:`testbed.campaign.driver`; ``pin=N`` pins each bucket of free findings in
    N schedules (:mod:`testbed.campaign.pins`).  Bad arguments raise :class:`ConfigError`
    before anything runs; a KeyboardInterrupt keeps what was found so far.
    """
    scenarios, fault_set, changes = stress_arguments(
        scenarios=scenarios,
        seed=seed,
        schedules=schedules,
        duration=duration,
        strategy_name=strategy,
        faults=faults,
        overrides=overrides,
        jobs=jobs,
        on_result=on_result,
    )
    campaign_options(strategy, jobs, calibrate, monitor, log_level, cluster)
    validate.integer("pin", pin, 0)
    if jobs > 1 and (script := unguarded_script()) is not None:
        raise ConfigError(
            f'stress(jobs={jobs}) from the top level of {script} needs `if __name__ == "__main__":` around it: '
            "its worker processes import the script again"
        )
    program = campaign_program(program, jobs, cluster)
    if program is not None:
        changes["program"] = program
    configs = [scenario_config(name, strategy=strategy, faults=fault_set, **changes) for name in scenarios]
    configs[0].program_function()  # a program that does not import fails here, before anything runs
    result = StressResult(list(scenarios), seed, strategy, fault_set, calibrated=calibrate)
    campaign = _Campaign(configs, seed, (schedules, duration), calibrate, monitor, on_result, result)
    campaign.run(jobs, cluster, hypothesis_db, log_level)
    if pin:
        pin_buckets(result, pin, program, campaign.stopping)
    return result


def _run_shipped(config: Config, deadline: float | None = None) -> RunResult | Cut | None:
    """:func:`run` in a worker process or on a cluster worker, its result made ready to ship back.

    A local worker process cuts it at the campaign's ``deadline`` (``time.monotonic()``
    is the machine's clock, the same in every process); a cluster passes None.

    A clean schedule's trace and model events go nowhere (only findings are
    filed into buckets, written under ``--out`` or explained), and they are
    most of its pickled size (a waltz run: 420 kB of 422 kB): they stay in
    the worker.
    """
    result = bounded_run(config, deadline, run)
    if isinstance(result, RunResult) and not result.violations:
        result.trace = None
        result.events = []
    return result
