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

``run_threads`` comes from tests/conftest.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

import testbed
from testbed.check import Checker
from testbed.deopt import TieringDeoptimizer
from testbed.gc import MarkCompact, SerialScavenger
from testbed.runtime import Config, Isolate, Mutator

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
