"""Helpers for the collector-layer tests (testbed/gc, DESIGN.md sections 3-6).

Fixtures (test modules cannot import this file under ``--import-mode=importlib``):

``run_threads(scheduler, {name: fn})`` makes ``scheduler`` the active one,
spawns one model thread per entry (in dict order: the registration order a
controlled scheduler counts in), launches them and joins each with a
timeout.  A thread still alive after the timeout fails the test (after the
scheduler is told to abandon control).  Returns what each thread raised, by
name.

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
from testbed.sched import Scheduler, running

#: seconds a test thread may take; the runs here take milliseconds
JOIN_TIMEOUT = 10.0

Body = Callable[[], None]
RunThreads = Callable[[Scheduler, dict[str, Body]], dict[str, BaseException]]


def _run_threads(scheduler: Scheduler, bodies: dict[str, Body]) -> dict[str, BaseException]:
    errors: dict[str, BaseException] = {}

    def guarded(name: str, body: Body) -> None:
        try:
            body()
        except BaseException as error:  # recorded for the test to inspect
            errors[name] = error

    with running(scheduler):
        threads = [scheduler.spawn(name, guarded, name, body) for name, body in bodies.items()]
        scheduler.launch()
        deadline = time.monotonic() + JOIN_TIMEOUT
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            scheduler.abandon()
            scheduler.interrupt_waits()
            for thread in threads:
                thread.join(1.0)
            pytest.fail(f"threads still running after {JOIN_TIMEOUT:g}s: {stuck}")
    return errors


@pytest.fixture
def run_threads() -> RunThreads:
    return _run_threads


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
