"""The verifier's deopt invariants on hand-built heaps (testbed/check/verifier.py):
weak-list-wellformed, weak-list-complete, weak-list-cleared, frames-consistent.

Each test arranges an isolate that never ran (two parked mutators, the tiering
deoptimizer's functions, code objects made and linked by hand) and calls the
verifier the way the checker does at a pause start, after a mark-compact or
at the run end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from testbed.check import HeapVerifier
from testbed.heap import Code, Map
from testbed.runtime import Isolate, ThreadState
from testbed.sched import Violation


def _verifier(isolate: Isolate) -> HeapVerifier:
    return isolate.observer.verifier


def _stopped(isolate: Isolate) -> Isolate:
    for mutator in isolate.mutators:
        mutator.state = ThreadState.PARKED
    return isolate


def _optimized(isolate: Isolate, function: int = 0) -> Code:
    """A function's fresh optimized code (optimize_after=1: the first call tiers up)."""
    code = isolate.deoptimizer.functions[function].code_for_call()
    assert code.optimized
    return code


def _deoptimized(isolate: Isolate, function: int = 0, link: bool = True) -> Code:
    """Optimized code as the deoptimizer leaves it: marked, dropped, linked."""
    code = _optimized(isolate, function)
    code.marked_for_deoptimization = True
    isolate.deoptimizer.functions[function].drop_optimized(code)
    if link:
        assert isolate.heap.weak_code_list.link_once(code)
    return code


def _invariants(violations: list[Violation]) -> set[str]:
    return {v.invariant for v in violations}


def test_a_consistent_weak_list_and_frames_pass_every_check(bare_isolate: Any) -> None:
    isolate = _stopped(bare_isolate())
    dead = _deoptimized(isolate, 0)
    running = _deoptimized(isolate, 1)
    isolate.mutators[0].enter_frame(3, code=running)  # pending lazy deopt: fine
    interpreter = isolate.deoptimizer.functions[0].interpreter_code
    isolate.mutators[1].enter_frame(3, code=interpreter).deoptimized = True
    verifier = _verifier(isolate)
    assert isolate.heap.weak_code_list.entries() == [running, dead]
    assert verifier.at_pause_start(isolate) == []
    assert verifier.at_run_end(isolate) == []
    dead.map_word = Map.FREED  # what the sweep does after unlinking it
    isolate.heap.weak_code_list.unlink_if(lambda code: code is dead)
    assert verifier.after_mark_compact(isolate, concurrent_sweeping=False) == []


def _cycle_of_two(isolate: Isolate) -> None:
    a, b = _deoptimized(isolate, 0), _deoptimized(isolate, 1)
    assert isolate.heap.weak_code_list.entries() == [b, a]
    a.next_code_link = b


def _linked_to_itself(isolate: Isolate) -> None:
    a = _deoptimized(isolate, 0)
    a.next_code_link = a


def _duplicate_through_the_tail(isolate: Isolate) -> None:
    a, b = _deoptimized(isolate, 0), _deoptimized(isolate, 1)
    c = _deoptimized(isolate, 0)
    assert isolate.heap.weak_code_list.entries() == [c, b, a]
    a.next_code_link = b  # c -> b -> a -> b: b twice


def _interpreter_code_on_the_list(isolate: Isolate) -> None:
    code = isolate.deoptimizer.functions[0].interpreter_code
    code.marked_for_deoptimization = True
    isolate.heap.weak_code_list.link_once(code)


def _unmarked_code_on_the_list(isolate: Isolate) -> None:
    isolate.heap.weak_code_list.link_once(_optimized(isolate))


def _freed_code_on_the_list(isolate: Isolate) -> None:
    _deoptimized(isolate).map_word = Map.FREED


MALFORMED: dict[str, Callable[[Isolate], None]] = {
    "cycle-of-two": _cycle_of_two,
    "linked-to-itself": _linked_to_itself,
    "duplicate-through-the-tail": _duplicate_through_the_tail,
    "interpreter-code-on-the-list": _interpreter_code_on_the_list,
    "unmarked-code-on-the-list": _unmarked_code_on_the_list,
    "freed-code-on-the-list": _freed_code_on_the_list,
}


@pytest.mark.parametrize("arrange", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("check", ["at_pause_start", "at_run_end"])
def test_a_malformed_weak_list_breaks_weak_list_wellformed(
    bare_isolate: Any, arrange: Callable[[Isolate], None], check: str
) -> None:
    isolate = _stopped(bare_isolate())
    arrange(isolate)
    found = getattr(_verifier(isolate), check)(isolate)
    assert "weak-list-wellformed" in _invariants(found), found


def test_a_cycle_is_reported_once_and_the_walk_terminates(bare_isolate: Any) -> None:
    isolate = _stopped(bare_isolate())
    _cycle_of_two(isolate)
    found = [v for v in _verifier(isolate).at_run_end(isolate) if v.invariant == "weak-list-wellformed"]
    assert len(found) == 1
    assert "has a cycle" in found[0].message


def test_marked_code_alive_but_not_on_the_list_breaks_weak_list_complete(bare_isolate: Any) -> None:
    isolate = _stopped(bare_isolate())
    _deoptimized(isolate, 0)
    lost = _deoptimized(isolate, 1, link=False)
    found = _verifier(isolate).at_pause_start(isolate)
    assert _invariants(found) == {"weak-list-complete"}, found
    assert f"#{lost.lid} is alive but not on the weak list" in found[0].message


def test_marked_code_that_was_freed_need_not_be_on_the_list(bare_isolate: Any) -> None:
    isolate = _stopped(bare_isolate())
    _deoptimized(isolate, 0, link=False).map_word = Map.FREED
    assert _verifier(isolate).at_pause_start(isolate) == []


def test_a_frame_running_freed_code_breaks_frames_consistent(bare_isolate: Any) -> None:
    isolate = _stopped(bare_isolate())
    code = _deoptimized(isolate)
    isolate.mutators[1].enter_frame(3, code=code)
    isolate.heap.weak_code_list.unlink_if(lambda c: c is code)
    code.map_word = Map.FREED
    found = _verifier(isolate).at_pause_start(isolate)
    assert _invariants(found) == {"frames-consistent"}, found
    assert f"mutator-1 frame 0 runs freed code #{code.lid}" in found[0].message


def test_a_patched_frame_on_live_optimized_code_is_no_violation_by_itself(bare_isolate: Any) -> None:
    # Only a consequence counts: the stale pointer matters once the code it names has died.
    isolate = _stopped(bare_isolate())
    code = _deoptimized(isolate)
    isolate.mutators[0].enter_frame(2)  # a plain frame below
    isolate.mutators[0].enter_frame(3, code=code).deoptimized = True
    assert _verifier(isolate).at_pause_start(isolate) == []
    isolate.heap.weak_code_list.unlink_if(lambda c: c is code)
    code.map_word = Map.FREED
    found = _verifier(isolate).at_pause_start(isolate)
    assert _invariants(found) == {"frames-consistent"}, found
    assert f"mutator-0 frame 1 runs freed code #{code.lid}" in found[0].message


@pytest.mark.parametrize("check", ["after_scavenge", "after_mark_compact"])
def test_frames_consistent_is_checked_after_each_collection(bare_isolate: Any, check: str) -> None:
    isolate = _stopped(bare_isolate())
    code = _deoptimized(isolate, link=False)
    code.map_word = Map.FREED
    isolate.mutators[0].enter_frame(3, code=code).deoptimized = True
    verifier = _verifier(isolate)
    found = (
        verifier.after_scavenge(isolate) if check == "after_scavenge" else verifier.after_mark_compact(isolate, False)
    )
    assert found and found[0].invariant == "frames-consistent", found


def test_an_unmarked_entry_left_on_the_list_after_a_mark_compact_breaks_weak_list_cleared(bare_isolate: Any) -> None:
    isolate = _stopped(bare_isolate())
    dead = _deoptimized(isolate)  # no activation, not the function's code: unmarked
    found = _verifier(isolate).after_mark_compact(isolate, concurrent_sweeping=False)
    assert _invariants(found) == {"weak-list-cleared"}, found
    assert f"unused code #{dead.lid} is still on the weak list" in found[0].message


def test_code_in_use_freed_by_a_mark_compact_breaks_weak_list_cleared(bare_isolate: Any) -> None:
    isolate = _stopped(bare_isolate())
    code = _optimized(isolate)  # the function's code: a root
    code.map_word = Map.FREED
    found = _verifier(isolate).after_mark_compact(isolate, concurrent_sweeping=False)
    assert "weak-list-cleared" in _invariants(found), found
    assert any(f"code #{code.lid} was freed while still in use" in v.message for v in found)


@pytest.mark.parametrize("swept", [True, False], ids=["swept-in-time", "still-listed"])
def test_a_concurrent_sweep_has_until_the_next_pause_to_clear_the_list(bare_isolate: Any, swept: bool) -> None:
    isolate = _stopped(bare_isolate())
    dead = _deoptimized(isolate)
    verifier = _verifier(isolate)
    assert verifier.after_mark_compact(isolate, concurrent_sweeping=True) == []
    if swept:
        isolate.heap.weak_code_list.unlink_if(lambda code: code is dead)
        dead.map_word = Map.FREED
    found = verifier.at_pause_start(isolate)
    if swept:
        assert found == []
    else:
        assert _invariants(found) == {"weak-list-cleared"}, found
        assert "after sweeping" in found[0].message
