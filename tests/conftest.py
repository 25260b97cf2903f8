"""Shared fixtures for the fast test suite.

``cli(*argv)`` calls :func:`testbed.cli.main` in-process and returns its exit
status with what it wrote to stdout and stderr; ``run_isolate`` runs an
isolate with a chosen collector and observer; ``small_config`` is a quick run.

``run_threads(scheduler, {name: fn}, expect_errors=False)`` makes ``scheduler``
the active one, spawns one model thread per entry (in dict order, which is
the registration order a controlled scheduler counts in), launches them and
joins each with a timeout.  A thread still alive after the timeout fails the
test (after the scheduler is told to abandon control, so nothing is left
blocked).  Whatever a thread raised is returned by thread name; unless
``expect_errors`` it fails the test.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest

import testbed
from testbed.check import Checker
from testbed.cli import main
from testbed.gc import SerialScavenger
from testbed.runtime import Collector, Config, Isolate, Observer
from testbed.sched import FreeScheduler, Scheduler, running


@pytest.fixture
def small_config() -> Config:
    """A quick run: 4 mutators, few operations, a scavenge every few allocations."""
    return testbed.scenario_config("mixed", ops=300, gc_interval=40)


RunIsolate = Callable[..., Isolate]


def run_isolate_with(
    config: Config,
    collector: Collector | None = None,
    observer: Observer | None = None,
    seed: int = 0,
) -> Isolate:
    """Run ``config`` on an isolate under a free scheduler; return the isolate after the run.

    Unlike ``testbed.run`` this lets a test choose the collector and the observer
    (default: the serial scavenger and a full checker).
    """
    isolate = Isolate(
        config,
        collector if collector is not None else SerialScavenger(),
        observer if observer is not None else Checker(config),
    )
    scheduler = FreeScheduler(
        seed, config.yield_probability, config.switch_interval, config.wait_timeout, config.timeout_cap
    )
    with running(scheduler):
        isolate.run()
    return isolate


@pytest.fixture
def run_isolate() -> RunIsolate:
    return run_isolate_with


@dataclasses.dataclass
class Outcome:
    code: int
    out: str
    err: str


Cli = Callable[..., Outcome]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    def invoke(*argv: str) -> Outcome:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


#: seconds a test thread may take; the runs here take milliseconds
JOIN_TIMEOUT = 10.0

Body = Callable[[], None]
RunThreads = Callable[..., dict[str, BaseException]]


def _run_threads(
    scheduler: Scheduler, bodies: dict[str, Body], expect_errors: bool = False
) -> dict[str, BaseException]:
    errors: dict[str, BaseException] = {}

    def guarded(name: str, body: Body) -> None:
        try:
            body()
        except BaseException as error:  # recorded for the test to inspect
            errors[name] = error

    with running(scheduler):
        threads: list[threading.Thread] = [scheduler.spawn(name, guarded, name, body) for name, body in bodies.items()]
        scheduler.launch()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            scheduler.abandon()
            scheduler.interrupt_waits()
            for thread in threads:
                thread.join(1.0)
            pytest.fail(f"threads still running after {JOIN_TIMEOUT:g}s: {stuck}")
    if not expect_errors and errors:
        pytest.fail(f"threads raised: {errors!r}")
    return errors


@pytest.fixture
def run_threads() -> RunThreads:
    return _run_threads


#: tests that take tens of seconds each (the README's shell session, the clean-model campaigns):
#: with ``-n 2`` they start first, so neither worker is left running one alone at the end
_LONG_FIRST = ("tests/test_readme.py::test_shell_blocks_run_as_a_session", "tests/test_clean_model.py::")


#: the tests whose model threads run at once (safepoint, store buffers, remembered set, scavenger,
#: sweeper, deoptimizer, explore's drop-ins), the README, and the free-threading checks: marked
#: ``free_threaded``, the subset ``.ci/run`` and ``tox -e py313t`` run on a free-threaded CPython
#: (``python -m pytest -m free_threaded``), where those threads really run in parallel
FREE_THREADED = (
    "tests/runtime/test_safepoint.py",
    "tests/heap/test_store_buffer.py",
    "tests/heap/test_remembered_set.py",
    "tests/heap/test_slot_set_interleaving.py",
    "tests/gc/test_parallel_scavenger.py",
    "tests/gc/test_worker_threads.py",
    "tests/gc/test_forwarding_race.py",
    "tests/gc/test_item_queue.py",
    "tests/gc/test_worklist.py",
    "tests/gc/test_sweeper.py",
    "tests/deopt/test_eager_deopt.py",
    "tests/deopt/test_lazy_deopt.py",
    "tests/deopt/test_weak_code_list.py",
    "tests/deopt/test_locker.py",
    "tests/sched/test_dropins.py",
    "tests/test_readme.py",
    "tests/test_free_threading.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(_LONG_FIRST))  # stable: the rest keep their order
    for item in items:
        if item.nodeid.startswith(FREE_THREADED):
            item.add_marker(pytest.mark.free_threaded)
