"""The weak list of deoptimized code (testbed/heap/code.py ``WeakCodeList``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from testbed.heap import Code, Heap, WeakCodeList
from testbed.sched import ControlledScheduler, ReplayStrategy, Strategy


def _codes(n: int) -> list[Code]:
    heap = Heap()
    codes = [heap.allocate_code(True, None, None) for _ in range(n)]
    for code in codes:
        code.marked_for_deoptimization = True
    return codes


def test_link_once_prepends_and_links_each_code_once() -> None:
    a, b = _codes(2)
    weak = WeakCodeList()
    assert weak.link_once(a) is True
    assert weak.link_once(b) is True
    assert weak.entries() == [b, a]
    assert weak.head is b and b.next_code_link is a and a.next_code_link is None
    assert a.on_weak_list and b.on_weak_list
    assert weak.link_once(a) is False
    assert weak.link_once(b) is False
    assert weak.entries() == [b, a]
    assert weak.links == 2


@pytest.mark.parametrize(
    ("dead_positions", "left"),
    [
        ((0,), [1, 2]),  # the head
        ((1,), [0, 2]),  # the middle
        ((2,), [0, 1]),  # the tail
        ((0, 2), [1]),
        ((0, 1), [2]),
        ((0, 1, 2), []),
        ((), [0, 1, 2]),
    ],
    ids=["head", "middle", "tail", "head-and-tail", "two-at-the-head", "all", "none"],
)
def test_unlink_if_removes_exactly_the_dead_entries(dead_positions: tuple[int, ...], left: list[int]) -> None:
    a, b, c = _codes(3)
    weak = WeakCodeList()
    for code in (a, b, c):
        weak.link_once(code)
    listed = weak.entries()
    assert listed == [c, b, a]
    dead = {listed[i].lid for i in dead_positions}
    removed = weak.unlink_if(lambda code: code.lid in dead)
    assert removed == [listed[i] for i in dead_positions]
    assert weak.entries() == [listed[i] for i in left]
    assert weak.unlinks == len(dead_positions)
    for code in removed:
        assert not code.on_weak_list and code.next_code_link is None
    for code in weak.entries():
        assert code.on_weak_list


def test_an_unlinked_code_can_be_linked_again() -> None:
    a, b = _codes(2)
    weak = WeakCodeList()
    weak.link_once(a)
    weak.link_once(b)
    weak.unlink_if(lambda code: code is a)
    assert weak.link_once(a) is True
    assert weak.entries() == [a, b]


# -- the unlink racing with a link ---------------------------------------------


class _PointAwareScheduler(ControlledScheduler):
    """Tells its strategy which thread is at which kind of point before it decides."""

    def point(self, kind: str, detail: object = None) -> None:
        strategy = self.strategy
        if isinstance(strategy, _SwitchAt):
            strategy.at = (threading.current_thread().name, kind)
        super().point(kind, detail)


class _SwitchAt(Strategy):
    """Run the first thread; switch away once, when ``thread`` reaches a point of ``kind``."""

    def __init__(self, thread: str, kind: str) -> None:
        self.target = (thread, kind)
        self.at: tuple[str, str] | None = None
        self.switched = False

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        if not current_runnable:
            return 0
        if not self.switched and self.at == self.target:
            self.switched = True
            return 1
        return 0


def _race(run_threads: Any, scheduler: ControlledScheduler, faults: frozenset[str]) -> dict[str, Any]:
    """``unlinker`` unlinks the head while ``linker`` links a new code."""
    old, new = _codes(2)
    weak = WeakCodeList(faults)
    weak.link_once(old)
    run_threads(
        scheduler,
        {
            "unlinker": lambda: weak.unlink_if(lambda code: code is old),
            "linker": lambda: weak.link_once(new),
        },
    )
    return {"weak": weak, "old": old, "new": new, "events": scheduler.events, "tape": list(scheduler.tape)}


def _switches(events: list[tuple[int, str, str, str]]) -> list[tuple[str, str]]:
    return [(thread, detail) for _, kind, thread, detail in events if kind == "switch"]


def test_unlocked_unlink_that_rewrites_the_head_loses_a_code_linked_meanwhile(run_threads: Any) -> None:
    strategy = _SwitchAt("unlinker", "weak-list-unlink")
    race = _race(run_threads, _PointAwareScheduler(strategy), frozenset({"unlocked-weak-unlink"}))
    assert strategy.switched, "the unlinker never reached its unlink point"
    assert _switches(race["events"])[0] == ("unlinker", "linker at weak-list-unlink")
    weak, new = race["weak"], race["new"]
    assert weak.entries() == [], "the unlink wrote back the head it read before the link"
    assert new.on_weak_list, "the linker believes the code is linked: nobody will link it again"
    assert weak.links == 2 and weak.unlinks == 1


def test_unlocked_unlink_race_replays_from_its_decision_tape(run_threads: Any) -> None:
    recorded = _race(
        run_threads,
        _PointAwareScheduler(_SwitchAt("unlinker", "weak-list-unlink")),
        frozenset({"unlocked-weak-unlink"}),
    )
    assert any(recorded["tape"]), "the schedule has a preemption"
    replayed = _race(
        run_threads, ControlledScheduler(ReplayStrategy(recorded["tape"])), frozenset({"unlocked-weak-unlink"})
    )
    assert _switches(replayed["events"]) == _switches(recorded["events"])
    assert replayed["weak"].entries() == []
    assert replayed["new"].on_weak_list


def test_locked_unlink_keeps_a_code_linked_meanwhile(run_threads: Any) -> None:
    strategy = _SwitchAt("unlinker", "weak-list-unlink")
    race = _race(run_threads, _PointAwareScheduler(strategy), frozenset())
    assert strategy.switched
    assert _switches(race["events"])[0] == ("unlinker", "linker at weak-list-unlink")
    blocked = [detail for _, kind, thread, detail in race["events"] if kind == "block" and thread == "linker"]
    assert blocked == ["lock 'weak-code-list' held by unlinker"], "the linker waited for the unlink to finish"
    weak, old, new = race["weak"], race["old"], race["new"]
    assert weak.entries() == [new]
    assert new.on_weak_list and not old.on_weak_list
    assert weak.links == 2 and weak.unlinks == 1
