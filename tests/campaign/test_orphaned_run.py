"""A schedule stuck at a campaign's deadline is given up without taking the process down with it.

Python cannot stop a thread, so a stuck schedule's run stays the process's
active run while its threads live: the next run here must either get the
slot once the orphan's threads end (they are halted at their next
scheduling point) or be refused with an error naming the stuck schedule,
and a campaign refused that way stops and says why instead of raising.
"""

from __future__ import annotations

import threading
import time

import pytest

import testbed
from testbed.sched import RunActive, active_scheduler

pytestmark = pytest.mark.timeout(60)

#: lets the stuck mutator of the current test go on (or never, for a hang)
_release = threading.Event()


def sleeps_without_points(m) -> None:
    with m.scope():
        if m.index == 0:
            _release.wait(20)  # passes no scheduling point: the campaign sees it stuck
        for _ in range(50):
            m.alloc(fields=1)
            m.poll()


def _stuck_campaign() -> testbed.StressResult:
    _release.clear()
    return testbed.stress(
        [None],
        program=sleeps_without_points,
        duration=0.5,
        overrides={"mutators": 2, "gc_interval": 5, "wait_timeout": 0.5},
    )


def test_a_stuck_schedule_that_ends_later_frees_the_process_for_the_next_run() -> None:
    result = _stuck_campaign()
    assert [finding.violation.invariant for finding in result.findings] == ["safepoint-liveness"]
    assert active_scheduler().orphaned is not None  # still held by the stuck run
    _release.set()  # its thread reaches a point at last, is halted there, and the run ends
    started = time.monotonic()
    assert testbed.run(testbed.Config(seed=1, ops=30)).ok
    assert time.monotonic() - started < 5
    assert active_scheduler().orphaned is None


def test_a_run_refused_by_a_stuck_schedule_names_it_and_a_campaign_stops_keeping_its_word() -> None:
    _stuck_campaign()
    try:
        with pytest.raises(RunActive, match=r"sleeps_without_points seed .* stuck at a campaign's deadline"):
            testbed.run(testbed.Config(seed=1, ops=30))
        later = testbed.stress(schedules=3)
        assert later.schedules == 0 and later.interrupted
        assert "a run is already active in this process" in later.stopped
    finally:
        _release.set()  # the orphan's thread is halted at its next point; the next run waits for its end
    assert testbed.run(testbed.Config(seed=1, ops=30)).ok
    assert active_scheduler().orphaned is None
