"""Helpers for the controlled-mode tests of the whole model.

Fixtures (test modules cannot import this file under ``--import-mode=importlib``):
``cli`` comes from tests/conftest.py; ``comparable_stats``
drops the stats that measure the machine rather than the schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

#: stats that measure time, memory and the OS (threads still exiting from an earlier run), which no schedule decides
MACHINE_STATS = ("wall_s", "pause_s", "zap_s", "parallel_s", "verify_s", "process_peak_rss_mb", "peak_os_threads")


def _comparable_stats(stats: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in stats.items() if key not in MACHINE_STATS}


@pytest.fixture
def comparable_stats() -> Callable[[dict[str, Any]], dict[str, Any]]:
    return _comparable_stats
