"""Helpers for the scheduling-layer tests (docs/design.md, 'Scheduling').

Fixtures (test modules cannot import this file under ``--import-mode=importlib``):

``run_threads`` comes from tests/conftest.py.

``never_interleaved(log)`` checks a log of ``(thread, "enter"|"exit", i)``
records: every "enter" is followed by the same thread's "exit".
"""

from __future__ import annotations

from collections.abc import Callable

import pytest


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
