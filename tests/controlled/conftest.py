"""Helpers for the controlled-mode tests of the whole model.

Fixtures (test modules cannot import this file under ``--import-mode=importlib``):
``cli(*argv)`` calls :func:`testbed.cli.main` in-process and returns its
exit status with what it wrote to stdout and stderr; ``comparable_stats``
drops the stats that measure the machine rather than the schedule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from testbed.cli import main

#: stats that measure time, memory and the OS (threads still exiting from an earlier run), which no schedule decides
MACHINE_STATS = ("wall_s", "pause_s", "max_rss_mb", "peak_os_threads")


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


def _comparable_stats(stats: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in stats.items() if key not in MACHINE_STATS}


@pytest.fixture
def comparable_stats() -> Callable[[dict[str, Any]], dict[str, Any]]:
    return _comparable_stats
