"""pytest plugin: run the model from tests, get a reproduce command on failure.

Installed with the package (entry point ``pytest11``).  Options:
``--testbed-seed`` (first seed, a non-negative integer, default 0),
``--testbed-strategy`` (``random``, the default, or ``pct``: controlled, so
failures replay; or ``free``), ``--testbed-schedules`` (schedules per
``check``, at least 1, default 20).  A bad value is a ``pytest.UsageError``.

Fixtures:

* ``testbed_runner``: ``runner.run(config)`` runs one schedule with the
  session's seed and strategy; ``runner.check(config)`` runs the session's
  number of schedules and fails the test on the first violation.  Every
  failing schedule's trace is written to the test's temporary directory, and
  a failed test gets a "testbed" report section with the invariant, the
  trace path and a line to paste that reproduces the failure: ``testbed
  replay TRACE`` (the trace names the program; a custom one is imported
  again), ``testbed.replay('TRACE', program=NAME)`` from Python for a program
  that cannot be imported (a local function, a lambda), or, in free mode
  (no trace), the ``testbed run`` command of the config.
* ``testbed_isolate``: a fresh, checked isolate for a config (not running),
  for tests that drive one mutator's operations themselves.

Marker ``@pytest.mark.explore(strategy=..., schedules=...)``: the test's own
threads under the controlled scheduler, with ``--testbed-replay=PATH`` to
replay a failing schedule it saved (:mod:`testbed.explore_marker`).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.api import RunResult, reproduce_command, run
from testbed.check import Checker
from testbed.explore_marker import MARKER, check_replay_option, explore_options, marker_settings, run_marked
from testbed.gc import SerialScavenger
from testbed.runtime import Config, Isolate, derive_seed, program_importable
from testbed.sched import write_trace

__all__ = ["TestbedRunner"]


#: strategies a runner can run one schedule with (``replay`` needs a tape, ``hypothesis`` is stress-only)
RUNNER_STRATEGIES = ("random", "pct", "pos", "surw", "portfolio", "free")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testbed", "testbed (real-thread runtime model)")
    group.addoption("--testbed-seed", default="0", help="first schedule seed, an integer >= 0 (default 0)")
    group.addoption(
        "--testbed-strategy",
        default="random",
        help=f"scheduling strategy: {', '.join(RUNNER_STRATEGIES)} (default random)",
    )
    group.addoption("--testbed-schedules", default="20", help="schedules per check, at least 1 (default 20)")
    explore_options(parser)


def _integer(option: str, text: object, minimum: int) -> int:
    try:
        value = int(str(text))
    except ValueError:
        raise pytest.UsageError(f"{option} must be an integer >= {minimum}, got {text!r}") from None
    if value < minimum:
        raise pytest.UsageError(f"{option} must be an integer >= {minimum}, got {value}")
    return value


def pytest_configure(config: pytest.Config) -> None:
    """Check the options once, before any test runs; store them converted."""
    config.addinivalue_line(
        "markers", f"{MARKER}(strategy='pct', schedules=1000, ...): run the test's threads under testbed.sched.explore"
    )
    options = config.option
    check_replay_option(config)
    options.testbed_seed = _integer("--testbed-seed", options.testbed_seed, 0)
    options.testbed_schedules = _integer("--testbed-schedules", options.testbed_schedules, 1)
    if options.testbed_strategy not in RUNNER_STRATEGIES:
        raise pytest.UsageError(
            f"--testbed-strategy must be one of {', '.join(RUNNER_STRATEGIES)}, got {options.testbed_strategy!r}"
        )


class TestbedRunner:
    """Runs configs with the session's seed and strategy; remembers failures."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, seed: int, strategy: str, schedules: int, directory: Path) -> None:
        self.seed = seed
        self.strategy = strategy
        self.schedules = schedules
        self.directory = directory
        #: (result, trace path, reproduce command) of every failing schedule
        self.failures: list[tuple[RunResult, str | None, str]] = []

    def run(self, config: Config | None = None, **changes: Any) -> RunResult:
        config = (config or Config()).replace(**{"seed": self.seed, "strategy": self.strategy, **changes})
        result = run(config)
        if result.violations:
            self._remember(result)
        return result

    def check(self, config: Config | None = None, **changes: Any) -> list[RunResult]:
        """Run the session's schedules (derived seeds); fail the test on the first violation."""
        results = []
        for index in range(self.schedules):
            seed = derive_seed(self.seed, 2, index) % 2**32
            result = self.run(config, **{**changes, "seed": seed})
            results.append(result)
            if result.violations:
                first = result.violations[0]
                _, trace, command = self.failures[-1]
                pytest.fail(f"{first.invariant}: {first.message}\n  trace: {trace}\n  reproduce: {command}")
        return results

    def _remember(self, result: RunResult) -> None:
        config = result.config
        path: str | None = None
        if result.trace is not None:
            label = config.scenario or ("program" if config.program is not None else "config")
            target = self.directory / f"trace-{label}-{config.seed}.json"
            write_trace(target, result.trace)
            path = str(target)
        if path is None or config.program is None or program_importable(config.program):
            # The trace names an importable program: the CLI imports it again.
            command = reproduce_command(config) if path is None else f"testbed replay {shlex.quote(path)}"
        else:
            name = getattr(config.program, "__name__", "")
            command = f"testbed.replay({path!r}, program={name if name.isidentifier() else 'program'})"
        self.failures.append((result, path, command))

    def report(self) -> str:
        lines = []
        for result, path, command in self.failures:
            first = result.violations[0]
            lines.append(f"{first.invariant} at step {first.step} (seed {result.config.seed}): {first.message}")
            lines.append(f"  trace: {path or '(free mode: no trace)'}")
            lines.append(f"  reproduce: {command}")
        return "\n".join(lines)


@pytest.fixture
def testbed_runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestbedRunner]:
    options = request.config.option
    runner = TestbedRunner(options.testbed_seed, options.testbed_strategy, options.testbed_schedules, tmp_path)
    request.node.testbed_runner = runner
    yield runner


@pytest.fixture
def testbed_isolate() -> Callable[..., Isolate]:
    """``testbed_isolate(config=None, **changes)``: a checked isolate, not started."""

    def make(config: Config | None = None, **changes: Any) -> Isolate:
        config = (config or Config(mutators=1)).replace(**changes)
        return Isolate(config, SerialScavenger(), Checker(config))

    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    runner = getattr(item, "testbed_runner", None)
    if report.when == "call" and report.failed and runner is not None and runner.failures:
        report.sections.append(("testbed", runner.report()))
    explained = getattr(item, "testbed_explore_report", None)
    if report.when == "call" and report.failed and explained is not None:
        report.sections.append(("testbed explore", explained))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Check every explore marker before anything runs (a bad one is a usage error)."""
    for item in items:
        marker_settings(item)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A test marked ``explore`` runs under control (see :mod:`testbed.explore_marker`)."""
    settings = marker_settings(pyfuncitem)
    if settings is None:
        return None
    run_marked(pyfuncitem, settings)
    return True
