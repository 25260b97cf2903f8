"""Helpers for the scheduling-layer tests (DESIGN.md section 6).

Fixtures (test modules cannot import this file under ``--import-mode=importlib``):

``run_threads(scheduler, {name: fn}, expect_errors=False)`` makes ``scheduler``
the active one, spawns one model thread per entry (in dict order, which is
the registration order a controlled scheduler counts in), launches them and
joins each with a timeout.  A thread still alive after the timeout fails the
test (after the scheduler is told to abandon control, so nothing is left
blocked).  Whatever a thread raised is returned by thread name; unless
``expect_errors`` it fails the test.

``never_interleaved(log)`` checks a log of ``(thread, "enter"|"exit", i)``
records: every "enter" is followed by the same thread's "exit".
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from testbed.sched import Scheduler, running

#: seconds a test thread may take; controlled runs here take milliseconds
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


def _never_interleaved(log: list[tuple[str, str, int]]) -> None:
    for i in range(0, len(log), 2):
        enter, leave = log[i], log[i + 1]
        assert enter[1] == "enter" and leave[1] == "exit", f"record {i}: {enter} then {leave}"
        assert enter[0] == leave[0] and enter[2] == leave[2], (
            f"{leave[0]} ran between {enter[0]}'s enter and exit (records {i}, {i + 1})"
        )


@pytest.fixture
def never_interleaved() -> Callable[[list[tuple[str, str, int]]], None]:
    return _never_interleaved
