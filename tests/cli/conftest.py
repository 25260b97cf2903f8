"""Helpers for the CLI contract tests (docs/design.md, 'Contracts').

Fixtures (test modules cannot import this file under ``--import-mode=importlib``):
``cli`` comes from tests/conftest.py; ``usage_error(outcome,
*needles)`` checks the bad-input rule: exit 2, exactly one line on stderr
starting ``testbed: error:``, nothing on stdout, no traceback; ``caught``
describes a fault run that fails in every schedule; ``testbed_process(env,
cwd, *args)`` runs ``python -m testbed`` in a subprocess (``cwd`` None: here).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import testbed


@dataclasses.dataclass(frozen=True)
class Caught:
    """A stress run with a fault that free mode catches in every schedule
    (200/200 in bench/detection_rates.py), with a small workload to stay fast."""

    fault: str = "store-buffer-overflow-drop"
    scenario: str = "store-buffer-storm"
    invariant: str = "remset-complete"
    schedules: int = 3

    @property
    def args(self) -> tuple[str, ...]:
        return ("--scenario", self.scenario, "--fault", self.fault, "--schedules", str(self.schedules), "--ops", "300")


def _assert_usage_error(outcome: Any, *needles: str) -> str:  # a tests/conftest.py Outcome
    """The bad-input rule; returns the error line.  Each needle must occur in it."""
    assert outcome.code == 2, outcome
    assert "Traceback" not in outcome.err, outcome.err
    lines = outcome.err.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got {lines!r}"
    line = lines[0]
    assert line.startswith("testbed: error: "), line
    assert line.removeprefix("testbed: error: ").strip(), "the error names no problem"
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    assert outcome.out == "", f"nothing may run or print on bad input, got {outcome.out!r}"
    return line


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """The environment for ``python -m testbed``: this checkout's package first on the path."""
    root = str(Path(testbed.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.pop("COLUMNS", None)
    return env


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def usage_error() -> Callable[..., str]:
    return _assert_usage_error


@pytest.fixture
def caught() -> Caught:
    return Caught()


#: seconds one ``python -m testbed`` subprocess may take
SUBPROCESS_TIMEOUT = 60


def _testbed_process(env: dict[str, str], cwd: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testbed", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="session")
def testbed_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``python -m testbed ARGS`` with ``env`` in ``cwd``, as a user's shell runs it."""
    return _testbed_process
