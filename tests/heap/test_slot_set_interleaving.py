"""Slot-set insertion is a real read-modify-write: without the lock it loses updates.

A custom scheduler turns the model's scheduling points into a deterministic
handshake between two real threads: the first thread ("first") stops at one
point inside its insertion and lets the second thread ("second") run until it
either finishes its own insertion or reaches a lock, then the first resumes.
Unlocked, the second's bit (or bucket) is overwritten by the first's stale
read; under the remembered set's lock the second blocks before it reads, so
nothing is lost.  Every wait has a timeout, so a broken handshake fails the
test instead of hanging it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from testbed.heap import HeapObject, RememberedSet, SlotSet
from testbed.sched import Scheduler, running

pytestmark = pytest.mark.timeout(30)

FIRST = "first"
SECOND = "second"
#: longest any handshake wait may last before the test fails
HANDSHAKE_TIMEOUT = 5.0


class PauseFirstAt(Scheduler):
    """``first`` stops at its first ``pause_kind`` point until ``second`` yields.

    ``second`` yields when it finishes its operation or when it reaches a
    lock (``lock-acquire`` point): past that it may block on a lock the first
    thread holds, so the first must be let go or the two would deadlock.
    """

    wait_timeout = HANDSHAKE_TIMEOUT

    def __init__(self, pause_kind: str) -> None:
        super().__init__()
        self.pause_kind = pause_kind
        self.first_paused = threading.Event()
        self.second_yielded = threading.Event()
        self.trace: list[tuple[str, str]] = []
        self.problems: list[str] = []
        self._paused_once = False

    def point(self, kind: str, detail: object = None) -> None:
        super().point(kind, detail)
        name = threading.current_thread().name
        if name not in (FIRST, SECOND):
            return
        self.trace.append((name, kind))
        if name == FIRST and kind == self.pause_kind and not self._paused_once:
            self._paused_once = True
            self.first_paused.set()
            if not self.second_yielded.wait(HANDSHAKE_TIMEOUT):
                self.problems.append(f"{FIRST} waited {HANDSHAKE_TIMEOUT}s for {SECOND}")
        elif name == SECOND and kind == "lock-acquire":
            self.second_yielded.set()


def run_pair(scheduler: PauseFirstAt, first: Callable[[], None], second: Callable[[], None]) -> None:
    """Run ``first`` and ``second`` on two threads under ``scheduler``; re-raise their errors."""
    errors: list[BaseException] = []

    def run_first() -> None:
        try:
            first()
        except BaseException as exc:
            errors.append(exc)
        finally:
            # If first never reached its pause, second must not wait for it forever.
            scheduler.first_paused.set()

    def run_second() -> None:
        try:
            if not scheduler.first_paused.wait(HANDSHAKE_TIMEOUT):
                scheduler.problems.append(f"{SECOND} waited {HANDSHAKE_TIMEOUT}s for {FIRST} to pause")
                return
            second()
        except BaseException as exc:
            errors.append(exc)
        finally:
            scheduler.second_yielded.set()

    threads = [
        threading.Thread(target=run_first, name=FIRST, daemon=True),
        threading.Thread(target=run_second, name=SECOND, daemon=True),
    ]
    with running(scheduler):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(2 * HANDSHAKE_TIMEOUT)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads did not finish: {stuck}; trace {scheduler.trace}"
    if errors:
        raise errors[0]
    assert not scheduler.problems, scheduler.problems
    assert scheduler._paused_once, f"{FIRST} never reached {scheduler.pause_kind!r}"


def kinds_of(trace: list[tuple[str, str]], name: str) -> list[str]:
    return [kind for who, kind in trace if who == name]


# -- bare slot set: the read-modify-write really can lose an update ------------------


def test_unlocked_slot_set_inserts_into_same_cell_lose_one_bit():
    slots = SlotSet(1024)
    slots.insert(100)  # bucket 0 already allocated: only the cell write races
    scheduler = PauseFirstAt("slot-set-write-cell")

    run_pair(scheduler, lambda: slots.insert(3), lambda: slots.insert(5))

    # second ran its whole insertion between first's read and write of cell 0
    trace = scheduler.trace
    assert trace.index((SECOND, "slot-set-write-cell")) > trace.index((FIRST, "slot-set-write-cell"))
    assert slots.contains(3)
    assert not slots.contains(5), "the second insert's bit should have been overwritten"
    assert list(slots.addresses()) == [3, 100]


def test_unlocked_slot_set_inserts_into_different_cells_lose_nothing():
    # Control: the same interleaving on different cells of one bucket is harmless.
    slots = SlotSet(1024)
    slots.insert(100)
    scheduler = PauseFirstAt("slot-set-write-cell")

    run_pair(scheduler, lambda: slots.insert(3), lambda: slots.insert(40))

    assert list(slots.addresses()) == [3, 40, 100]


def test_unlocked_slot_set_bucket_publication_can_lose_a_whole_bucket():
    slots = SlotSet(2048)
    scheduler = PauseFirstAt("slot-set-publish-bucket")

    # Both find bucket 1 missing; first publishes its fresh bucket last.
    run_pair(scheduler, lambda: slots.insert(1024 + 600), lambda: slots.insert(1024 + 7))

    assert kinds_of(scheduler.trace, SECOND).count("slot-set-publish-bucket") == 1
    assert list(slots.addresses()) == [1624]


# -- remembered set: the lock prevents the loss; the fault brings it back ------------


def _two_hosts_in_one_cell(make) -> tuple[HeapObject, HeapObject]:
    a, b = make(2, old=True), make(2, old=True)
    assert a.page is b.page
    assert a.slot_address(0) // 32 == b.slot_address(1) // 32, "slots must share a cell"
    return a, b


def test_locked_remembered_set_insert_batch_loses_no_slot_under_same_interleaving(make):
    a, b = _two_hosts_in_one_cell(make)
    remset = RememberedSet()
    scheduler = PauseFirstAt("slot-set-write-cell")

    run_pair(scheduler, lambda: remset.insert_batch([(a, 0)]), lambda: remset.insert_batch([(b, 1)]))

    # second reached the lock while first was paused inside its read-modify-write,
    # and only read the cell after first had written it
    trace = scheduler.trace
    assert trace.index((SECOND, "lock-acquire")) > trace.index((FIRST, "slot-set-write-cell"))
    assert "slot-set-read-cell" in kinds_of(trace, SECOND)
    assert remset.contains(a, 0)
    assert remset.contains(b, 1)
    assert list(RememberedSet.slots_of(a.page)) == [(a, 0), (b, 1)]
    assert remset.inserts == 2
    assert not remset.lock.locked()


def test_unlocked_remset_insert_fault_loses_a_slot_under_same_interleaving(make):
    a, b = _two_hosts_in_one_cell(make)
    remset = RememberedSet(frozenset({"unlocked-remset-insert"}))
    scheduler = PauseFirstAt("slot-set-write-cell")

    run_pair(scheduler, lambda: remset.insert_batch([(a, 0)]), lambda: remset.insert_batch([(b, 1)]))

    assert "lock-acquire" not in kinds_of(scheduler.trace, SECOND)
    assert remset.contains(a, 0)
    assert not remset.contains(b, 1), "the unlocked insert should have lost b's slot"
    assert list(RememberedSet.slots_of(a.page)) == [(a, 0)]


def test_concurrent_record_from_two_scavenger_workers_loses_no_slot(make):
    a, b = _two_hosts_in_one_cell(make)
    remset = RememberedSet()
    scheduler = PauseFirstAt("slot-set-write-cell")

    run_pair(scheduler, lambda: remset.record(a, 0), lambda: remset.record(b, 1))

    assert remset.contains(a, 0)
    assert remset.contains(b, 1)
