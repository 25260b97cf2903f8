"""Helpers for the deoptimizer, weak-list and mark-compact tests.

Fixtures (test modules cannot import this file under ``--import-mode=importlib``):

``run_program(program, **config)`` runs ``program`` (``fn(m)``) through
:func:`testbed.run` on a small, controlled configuration (one mutator,
strategy ``random``, seed 0, serial scavenger, one function, no automatic
GC) with ``config`` applied, and returns a :class:`ProgramRun`: the result
and the isolate the program ran in (taken from ``m.isolate``), so a test can
inspect code objects, frames and the weak list after the run.

``bare_isolate(**config)`` builds an isolate the way :func:`testbed.run`
does (checker, mark-compact, tiering deoptimizer) but runs nothing: the
verifier tests arrange its heap by hand and call the verifier directly.

``run_threads(scheduler, {name: fn})`` makes ``scheduler`` the active one,
spawns one model thread per entry (in dict order: the registration order a
controlled scheduler counts in), launches them and joins each with a
timeout; a thread still alive fails the test.  Whatever a thread raised is
re-raised in the test.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest

import testbed
from testbed.check import Checker
from testbed.deopt import TieringDeoptimizer
from testbed.gc import MarkCompact, SerialScavenger
from testbed.runtime import Config, Isolate, Mutator
from testbed.sched import Scheduler, running

#: seconds a test thread may take (runs here take milliseconds)
JOIN_TIMEOUT = 20.0

#: what every custom-program run here starts from
BASE = {
    "mutators": 1,
    "functions": 1,
    "strategy": "random",
    "seed": 0,
    "scavenger_workers": 0,
    "gc_interval": 0,
    "mark_compact_every": 0,
    "wait_timeout": 10.0,
    "run_timeout": 60.0,
}


@dataclasses.dataclass
class ProgramRun:
    result: testbed.RunResult
    isolate: Isolate

    @property
    def stats(self) -> dict[str, Any]:
        return self.result.stats


Program = Callable[[Mutator], None]
RunProgram = Callable[..., ProgramRun]


def _run_program(program: Program, **config: Any) -> ProgramRun:
    isolates: list[Isolate] = []

    def recorded(m: Mutator) -> None:
        if not isolates:
            isolates.append(m.isolate)
        program(m)

    result = testbed.run(Config(program=recorded, **(BASE | config)))
    assert isolates, f"the program never ran: {[v.to_json() for v in result.violations]}"
    return ProgramRun(result, isolates[0])


@pytest.fixture
def run_program() -> RunProgram:
    return _run_program


BareIsolate = Callable[..., Isolate]


def _bare_isolate(**config: Any) -> Isolate:
    cfg = Config(**(BASE | {"optimize_after": 1, "functions": 2, "mutators": 2} | config))
    isolate = Isolate(cfg, SerialScavenger(), Checker(cfg), MarkCompact(False, cfg.faults))
    isolate.deoptimizer = TieringDeoptimizer(isolate)
    return isolate


@pytest.fixture
def bare_isolate() -> BareIsolate:
    return _bare_isolate


Body = Callable[[], None]
RunThreads = Callable[[Scheduler, dict[str, Body]], None]


def _run_threads(scheduler: Scheduler, bodies: dict[str, Body]) -> None:
    errors: dict[str, BaseException] = {}

    def guarded(name: str, body: Body) -> None:
        try:
            body()
        except BaseException as error:  # re-raised in the test below
            errors[name] = error

    with running(scheduler):
        threads: list[threading.Thread] = [scheduler.spawn(name, guarded, name, body) for name, body in bodies.items()]
        scheduler.launch()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            scheduler.abandon()
            for thread in threads:
                thread.join(1.0)
            pytest.fail(f"threads still running after {JOIN_TIMEOUT}s: {stuck}")
    for name, error in errors.items():
        raise AssertionError(f"thread {name} raised {type(error).__name__}: {error}") from error


@pytest.fixture
def run_threads() -> RunThreads:
    return _run_threads
