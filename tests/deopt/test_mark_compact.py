"""Mark-compact: dead deoptimized code leaves the weak list and is freed, live
code stays, dead old objects are swept (testbed/gc/mark_compact.py)."""

from __future__ import annotations

from typing import Any

import pytest

from testbed.heap import Code, HeapObject, Map
from testbed.runtime import Mutator
from testbed.sched import Event, active_scheduler

TIMEOUT = 10.0

#: seeds whose schedule lets the sweeper thread start only after the mutator
#: allocated past the marking (checked by the test itself)
SWEEP_SEEDS = [5, 6, 7]


def _deopt_and_return(m: Mutator) -> Code:
    frame = m.call_optimized(0)
    code = frame.code
    assert isinstance(code, Code) and code.optimized
    assert m.fail_guard()
    m.return_from_call()
    return code


@pytest.mark.parametrize("scavenger_workers", [0, 2])
def test_mark_compact_unlinks_and_frees_deoptimized_code_with_no_activation_left(
    run_program: Any, scavenger_workers: int
) -> None:
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        frame = m.call_optimized(0)
        seen["context"] = frame.slots[0]
        m.return_from_call()
        m.call_optimized(0)  # a fresh activation of the same code
        seen["code"] = code = m.frames[-1].code
        assert m.fail_guard()
        m.return_from_call()
        seen["before"] = (code.map_word, m.isolate.heap.weak_code_list.entries())
        m.isolate.collect_garbage(m)
        seen["after"] = m.isolate.heap.weak_code_list.entries()

    run = run_program(program, optimize_after=1, mark_compact_every=1, scavenger_workers=scavenger_workers)
    assert run.result.ok, run.result.violations
    code: Code = seen["code"]
    assert seen["before"] == (Map.CODE, [code])
    assert seen["after"] == []
    assert code.map_word is Map.FREED
    assert not code.on_weak_list and code.next_code_link is None
    function = run.isolate.deoptimizer.functions[0]
    assert function.interpreter_code.map_word is Map.CODE, "the function's interpreter code is a root"
    context = seen["context"]
    assert isinstance(context, HeapObject) and context.map_word is Map.FREED, "a returned call's context is garbage"
    stats = run.stats
    assert stats["mark_compacts"] == 1
    assert stats["weak_list_links"] == 1 and stats["weak_list_unlinks"] == 1
    assert stats["freed"] >= 2


def test_mark_compact_keeps_deoptimized_code_that_another_thread_still_runs(run_program: Any) -> None:
    """Mutator 1 sits (parked) in an activation of the code mutator 0 deoptimizes and collects."""
    called = Event("mutator-1 called")
    collected = Event("mutator-0 collected")
    returned = Event("mutator-1 returned")
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        heap = m.isolate.heap
        if m.index == 1:
            frame = m.call_optimized(0)
            seen["code"] = frame.code
            called.set()
            with m.parked():
                collected.wait(TIMEOUT)
            m.return_from_call()
            seen["returned"] = (frame.code, frame.deoptimized)
            returned.set()
            return
        with m.parked():
            called.wait(TIMEOUT)
        m.call_optimized(0)
        assert m.fail_guard()
        m.return_from_call()
        m.isolate.collect_garbage(m)
        code = seen["code"]
        seen["kept"] = (code.map_word, code.on_weak_list, heap.weak_code_list.entries())
        collected.set()
        with m.parked():
            returned.wait(TIMEOUT)
        m.isolate.collect_garbage(m)
        seen["freed"] = (code.map_word, heap.weak_code_list.entries())

    run = run_program(program, mutators=2, optimize_after=1, mark_compact_every=1)
    assert run.result.ok, run.result.violations
    code = seen["code"]
    assert seen["kept"] == (Map.CODE, True, [code]), "a frame still runs it: marked, kept, still on the list"
    interpreter = run.isolate.deoptimizer.functions[0].interpreter_code
    assert seen["returned"] == (interpreter, True), "mutator 1 deoptimized lazily on return"
    assert seen["freed"] == (Map.FREED, []), "once the last activation is gone the next mark-compact retires it"
    stats = run.stats
    assert (stats["mark_compacts"], stats["lazy_deopts"], stats["weak_list_links"], stats["weak_list_unlinks"]) == (
        2,
        1,
        1,
        1,
    )


def test_mark_compact_frees_unreachable_old_objects_and_drops_their_remembered_slots(run_program: Any) -> None:
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        heap = m.isolate.heap
        with m.scope():
            live = m.alloc(2, old=True)
            m.set_global(0, live)
            m.store(live, 0, m.alloc(1))
            with m.scope():
                dead = m.alloc(2, old=True)
                m.store(dead, 1, m.alloc(1))
                seen.update(live=live.get(), dead=dead.get())
        m.store_buffer.flush()
        seen["remembered_before"] = (
            heap.remembered_set.contains(seen["live"], 0),
            heap.remembered_set.contains(seen["dead"], 1),
        )
        m.isolate.collect_garbage(m)
        seen["remembered_after"] = (
            heap.remembered_set.contains(seen["live"], 0),
            heap.remembered_set.contains(seen["dead"], 1),
        )
        m.set_global(0, None)

    run = run_program(program, mark_compact_every=1)
    assert run.result.ok, run.result.violations
    assert seen["remembered_before"] == (True, True)
    assert seen["dead"].map_word is Map.FREED
    assert seen["live"].map_word is Map.PLAIN
    assert seen["remembered_after"] == (True, False), "the live host's young slot stays, the freed host's is dropped"
    assert run.stats["freed"] >= 1


@pytest.mark.parametrize("seed", SWEEP_SEEDS)
def test_a_concurrent_sweep_does_not_free_objects_allocated_after_marking(run_program: Any, seed: int) -> None:
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        sweeper = m.isolate.full_collector
        with m.scope():
            seen["garbage"] = [m.alloc(2, old=True).get() for _ in range(4)]  # dead once the scope closes
        m.isolate.collect_garbage(m)  # marks; the sweep is left to the sweeper thread
        with m.scope():
            kept = m.alloc(2, old=True)
            m.set_global(0, kept)
            seen["kept"] = kept.get()
            seen["dropped"] = m.alloc(2, old=True).get()  # unreachable, but allocated black
        seen["allocated_at"] = active_scheduler().steps
        with m.parked():
            sweeper.ensure_sweeping_completed(m.isolate)
        seen["states"] = (seen["kept"].map_word, seen["dropped"].map_word)

    run = run_program(program, mark_compact_every=1, concurrent_sweeping=True, seed=seed)
    assert run.result.ok, run.result.violations
    sweeps = [e for e in run.result.events if e.kind == "sweeper-start"]
    assert [e.thread for e in sweeps] == ["sweeper"]
    assert sweeps[0].step > seen["allocated_at"], "this seed sweeps after the mutator allocated (re-pick the seed)"
    assert all(obj.map_word is Map.FREED for obj in seen["garbage"]), "the sweep freed what marking left unmarked"
    assert seen["states"] == (Map.PLAIN, Map.PLAIN), "objects newer than the marking are not judged by its sweep"


def test_unlink_before_marking_done_releases_code_a_frame_still_runs(run_program: Any) -> None:
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        m.call_optimized(0)
        m.call_optimized(0)
        seen["code"] = m.frames[-1].code
        assert m.fail_guard()
        m.return_from_call()  # the outer frame still runs the marked code
        m.isolate.collect_garbage(m)

    run = run_program(program, optimize_after=1, mark_compact_every=1, faults=frozenset({"unlink-before-marking-done"}))
    code = seen["code"]
    assert not code.on_weak_list, "unlinked although the outer frame's code is marked later"
    assert code.map_word is Map.FREED, "released with the unlinking, while the outer frame runs it"
    first = run.result.violations[0]
    assert first.invariant == "frames-consistent", run.result.violations
    assert f"mutator-0 frame 0 runs freed code #{code.lid}" in first.message
    assert "after mark-compact 1" in first.message
