"""The long-running stress suites: ``pytest stress [--stress-budget SECONDS]``.

Not collected by a plain ``pytest`` (``testpaths = ["tests"]``).  Every item
under this directory gets the ``stress`` marker and a ``timeout`` marker of
the budget plus a margin: the last schedule of a budget may start just
before it runs out, and one schedule may take up to the run timeout of the
model's Config before the model itself reports it as a liveness violation,
which is a better report than pytest-timeout's stack dump.

``pytest stress -n auto`` (pytest-xdist) spreads the cases over worker
processes.  That is safe because each case is a self-contained campaign:
its seeds are constants of the test module, its collection order is fixed
(sorted scenarios, the fault catalogue's order: every worker must collect
the same items), it writes no file (a trace goes to pytest's per-test
``tmp_path``, which xdist keeps apart per worker), and the one piece of
process-wide state, the active scheduler, is per process, so per worker.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import testbed

DEFAULT_BUDGET = 60.0
DEFAULT_SOAK_SCHEDULES = 1000
#: a generous bound on one schedule of the slowest scenario (about 1.5 s on a
#: busy 2-core machine), so a soak case times out only when something hangs
SOAK_SECONDS_PER_SCHEDULE = 10.0
#: the longest one schedule may run, plus slack for the checker and teardown
MARGIN = testbed.Config().run_timeout + 60.0

_HERE = Path(__file__).resolve().parent


def _budget(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return seconds


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stress-budget",
        type=_budget,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help=f"time budget of each stress case (default {DEFAULT_BUDGET:g})",
    )
    parser.addoption(
        "--soak-schedules",
        type=_count,
        default=DEFAULT_SOAK_SCHEDULES,
        metavar="N",
        help=f"schedules per strategy of the clean soak (default {DEFAULT_SOAK_SCHEDULES})",
    )


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return count


def stress_timeout(budget: float) -> float:
    return budget + MARGIN


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    timeout = stress_timeout(config.getoption("stress_budget"))
    soak_timeout = config.getoption("soak_schedules") * SOAK_SECONDS_PER_SCHEDULE + MARGIN
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.stress)
            soak = "soak_schedules" in getattr(item, "fixturenames", ())
            item.add_marker(pytest.mark.timeout(soak_timeout if soak else timeout))


@pytest.fixture
def stress_budget(request: pytest.FixtureRequest) -> float:
    """Seconds each stress case may spend running schedules."""
    return request.config.getoption("stress_budget")


@pytest.fixture
def soak_schedules(request: pytest.FixtureRequest) -> int:
    """Schedules per strategy of the clean soak."""
    return request.config.getoption("soak_schedules")
