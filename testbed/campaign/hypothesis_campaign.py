"""``stress(strategy="hypothesis")``: Hypothesis draws each schedule, and shrinks the first failing one.

Each example is a (scenario, workload seed, tape) triple, run as a
``replay`` of that tape; passing schedules are recorded as they run, and of
the failing ones only the minimal example Hypothesis ends on is recorded,
so the finding is the shrunk schedule.  A time budget (or a stop request)
ends the search, generating or shrinking, at once; the finding is then the
smallest failing schedule so far.  Failing examples are saved to the
campaign's example database (:mod:`testbed.campaign.database`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from testbed.api import run
from testbed.campaign.database import HYPOTHESIS_DB, campaign_database
from testbed.execute import RunResult
from testbed.runtime import Config

__all__ = ["stress_with_hypothesis"]


class _BudgetSpent(BaseException):
    """Raised inside a Hypothesis search when the time budget is spent.

    A BaseException (like KeyboardInterrupt), so Hypothesis does not take it
    for a failing example to shrink: it leaves the search at once.
    """


class _Failed(Exception):
    """A failing example: Hypothesis shrinks it."""


class _Search:
    """One Hypothesis search over a campaign's configs: what it ran, failed, and whether it must stop."""

    def __init__(
        self,
        configs: list[Config],
        duration: float | None,
        record: Callable[[RunResult], None],
        db: Any,
        stopping: Callable[[], bool],
    ) -> None:
        self.started = time.monotonic()
        self.configs = configs
        self.duration = duration
        self.record = record
        self.db = db
        self.stopping = stopping
        #: the failing examples, in the order Hypothesis ran them (its last call replays the minimal one)
        self.failing: list[RunResult] = []

    def stop(self, reason: BaseException) -> BaseException:
        """``reason`` to raise; nothing more is saved to the database from here on."""
        if self.db is not None:
            self.db.stopped = True
        return reason

    def example(self, index: int, workload: int, tape: list[int]) -> None:
        if self.stopping() or (self.duration is not None and time.monotonic() - self.started >= self.duration):
            raise self.stop(_BudgetSpent())
        try:
            outcome = run(self.configs[index].replace(seed=workload, strategy="replay"), tape=tape)
        except KeyboardInterrupt as interrupt:
            raise self.stop(interrupt) from None
        if outcome.violations:
            self.failing.append(outcome)
            raise _Failed
        if not self.failing:
            self.record(outcome)

    def test(self, seed: int, schedules: int | None) -> Callable[[], None]:
        """The Hypothesis test that draws (scenario, workload seed, tape) and runs :meth:`example`."""
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as fix_seed
        from hypothesis import strategies as st

        from testbed.strategies import schedules as tapes

        # @settings goes on last: @seed alone would switch the database off.
        @settings(
            max_examples=schedules if schedules is not None else 100_000,
            database=self.db,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.reuse, Phase.generate, Phase.shrink],
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,  # nothing on stdout: `--json -` owns it
        )
        @fix_seed(seed)
        @given(index=st.integers(0, len(self.configs) - 1), workload=st.integers(0, 2**32 - 1), tape=tapes())
        def probe(index: int, workload: int, tape: list[int]) -> None:
            self.example(index, workload, tape)

        return probe  # type: ignore[no-any-return]


def stress_with_hypothesis(
    configs: list[Config],
    seed: int,
    schedules: int | None,
    duration: float | None,
    record: Callable[[RunResult], None],
    database: Any = HYPOTHESIS_DB,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Let Hypothesis draw (scenario, workload seed, tape); shrink the first failure.

    ``duration`` ends the search when it is spent.  Failing examples are
    saved to ``database`` (a directory, default ``.hypothesis/testbed``, or
    any Hypothesis ``ExampleDatabase``; None for none).
    """
    search = _Search(configs, duration, record, campaign_database(database, configs), stopping)
    try:
        search.test(seed, schedules)()
    except _Failed:
        record(search.failing[-1])  # Hypothesis' last call replays the minimal example
    except (_BudgetSpent, KeyboardInterrupt) as stopped:
        # Stopped mid-search: the finding is the smallest failing schedule so far.
        if search.failing:
            record(min(reversed(search.failing), key=lambda r: (r.stats["preemptions"], r.stats["decisions"])))
        if isinstance(stopped, KeyboardInterrupt):
            raise
