"""Helpers for the collector-layer tests (testbed/gc; docs/design.md, 'Life of a scavenge').

Fixtures (test modules cannot import this file under ``--import-mode=importlib``):

``run_threads`` comes from tests/conftest.py.

``young_heap()`` makes a small heap and returns ``(heap, allocator)``.

``stray_scavenger_threads(timeout)`` joins every live thread named
``scavenger-*`` within one overall deadline and returns the names of those
still alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from testbed.heap import Heap, ThreadAllocator


def _young_heap() -> tuple[Heap, ThreadAllocator]:
    heap = Heap(new_space_pages=2, page_words=256, lab_words=16)
    return heap, ThreadAllocator(heap)


@pytest.fixture
def young_heap() -> Callable[[], tuple[Heap, ThreadAllocator]]:
    return _young_heap


def _stray_scavenger_threads(timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    alive = [t for t in threading.enumerate() if t.name.startswith("scavenger-")]
    for thread in alive:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in alive if t.is_alive()]


@pytest.fixture
def stray_scavenger_threads() -> Callable[..., list[str]]:
    return _stray_scavenger_threads
