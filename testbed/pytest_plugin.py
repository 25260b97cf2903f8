"""pytest plugin: run the model from tests, get a reproduce command on failure.

Installed with the package (entry point ``pytest11``).  Options:
``--testbed-seed`` (first seed, default 0), ``--testbed-strategy`` (default
``random``: controlled, so failures replay), ``--testbed-schedules``
(schedules per ``check``, default 20).

Fixtures:

* ``testbed_runner``: ``runner.run(config)`` runs one schedule with the
  session's seed and strategy; ``runner.check(config)`` runs the session's
  number of schedules and fails the test on the first violation.  Every
  failing schedule's trace is written to the test's temporary directory, and
  a failed test gets a "testbed" report section with the invariant, the
  trace path and the command that replays it.
* ``testbed_isolate``: a fresh, checked isolate for a config (not running),
  for tests that drive one mutator's operations themselves.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed import validate
from testbed.api import RunResult, reproduce_command, run
from testbed.check import Checker
from testbed.gc import SerialScavenger
from testbed.runtime import Config, ConfigError, Isolate, derive_seed
from testbed.sched import write_trace

__all__ = ["TestbedRunner"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("testbed", "testbed (real-thread runtime model)")
    group.addoption("--testbed-seed", type=int, default=0, help="first schedule seed (default 0)")
    group.addoption("--testbed-strategy", default="random", help="scheduling strategy (default random)")
    group.addoption("--testbed-schedules", type=int, default=20, help="schedules per check (default 20)")


def pytest_configure(config: pytest.Config) -> None:
    try:  # the options as the API takes them (testbed.validate), before any test runs
        validate.plugin_options(
            config.option.testbed_seed, config.option.testbed_strategy, config.option.testbed_schedules
        )
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from None


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
            target = self.directory / f"trace-{config.scenario}-{config.seed}.json"
            write_trace(target, result.trace)
            path = str(target)
        if path is not None and config.program is None:
            command = f"testbed replay {shlex.quote(path)}"
        elif config.program is None:
            command = reproduce_command(config)
        else:
            command = f"testbed.shrink.replay({path!r}) with the same program"
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
