"""Eager deopt: a failed guard rebuilds the innermost optimized activation
(testbed/deopt/deoptimizer.py, steps 3 and 4 of the waltz)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from testbed.deopt import DeoptimizationData, Translation
from testbed.heap import Code, HeapObject, Kind, Map
from testbed.runtime import Frame, Mutator


def _deopt_once(m: Mutator, seen: dict[str, Any]) -> None:
    """Call the function (optimized), fail a guard, and record the frame around it."""
    frame = m.call_optimized(0)
    code = frame.code
    assert isinstance(code, Code) and code.optimized
    assert isinstance(code.deopt_data, DeoptimizationData)
    seen.update(
        frame=frame,
        code=code,
        translation=code.deopt_data.points[frame.deopt_point % len(code.deopt_data.points)],
        before=list(frame.slots),
    )
    seen["failed"] = m.fail_guard()
    remembered_set = m.isolate.heap.remembered_set
    context = frame.slots[0]
    assert isinstance(context, HeapObject)
    seen.update(
        after=list(frame.slots),
        context=context,
        context_fields=list(context.fields),
        buffered={(host.lid, index) for host, index in m.store_buffer.entries},
        remembered={i for i in range(len(context.fields)) if remembered_set.contains(context, i)},
        weak_list=m.isolate.heap.weak_code_list.entries(),
        again=m.fail_guard(),
    )
    m.return_from_call()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_eager_deopt_materializes_each_captured_object_as_a_young_object_in_its_slot_and_the_context(
    run_program: Any, seed: int
) -> None:
    seen: dict[str, Any] = {}
    run = run_program(lambda m: _deopt_once(m, seen), optimize_after=1, seed=seed)
    assert run.result.ok, run.result.violations
    assert seen["failed"] is True
    translation: Translation = seen["translation"]
    assert translation.captured, "every deopt point captures at least one object"
    context: HeapObject = seen["context"]
    assert context.kind is Kind.CONTEXT and not context.page.young
    last_into: dict[int, HeapObject] = {}
    for captured in translation.captured:
        obj = seen["after"][captured.slot]
        assert isinstance(obj, HeapObject), f"slot {captured.slot} holds {obj!r}, not the materialized object"
        assert obj.page.young, f"#{obj.lid} materialized outside new space"
        assert obj.kind is captured.kind
        assert len(obj.fields) == captured.fields
        unboxed = seen["before"][captured.slot]
        assert isinstance(unboxed, int)
        assert obj.fields[0] == unboxed, "field 0 boxes the slot's unboxed value"
        if captured.kind is Kind.CLOSURE and captured.fields > 1:
            assert obj.fields[1] is context, "a closure closes over the activation's context"
        last_into[captured.context_field] = obj
    for field, obj in last_into.items():
        assert seen["context_fields"][field] is obj
    untouched = set(range(1, len(seen["before"]))) - {c.slot for c in translation.captured}
    for slot in untouched:
        assert seen["after"][slot] == seen["before"][slot], f"slot {slot} is not captured but changed"


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_eager_deopt_stores_materialized_objects_into_the_context_through_the_write_barrier(
    run_program: Any, seed: int
) -> None:
    seen: dict[str, Any] = {}
    run = run_program(lambda m: _deopt_once(m, seen), optimize_after=1, seed=seed)
    assert run.result.ok, run.result.violations
    context = seen["context"]
    for captured in seen["translation"].captured:
        field = captured.context_field
        recorded = (context.lid, field) in seen["buffered"] or field in seen["remembered"]
        assert recorded, f"old context #{context.lid}.{field} -> young object is in no store buffer or remembered set"
    assert seen["buffered"], "the store buffer (emptied by the park at the deopt entry) holds the materialization"


def test_eager_deopt_without_the_materialization_barrier_is_caught_by_remset_complete_at_run_end(
    run_program: Any,
) -> None:
    seen: dict[str, Any] = {}
    run = run_program(
        lambda m: _deopt_once(m, seen), optimize_after=1, faults=frozenset({"missing-barrier-in-materialize"})
    )
    context = seen["context"]
    for captured in seen["translation"].captured:
        assert (context.lid, captured.context_field) not in seen["buffered"]
        assert captured.context_field not in seen["remembered"]
    assert [v.invariant for v in run.result.violations] == ["remset-complete"]
    assert "at run end" in run.result.violations[0].message


def test_eager_deopt_rebuilds_the_frame_as_an_interpreter_frame_and_retires_the_code(run_program: Any) -> None:
    seen: dict[str, Any] = {}
    run = run_program(lambda m: _deopt_once(m, seen), optimize_after=1)
    assert run.result.ok, run.result.violations
    frame: Frame = seen["frame"]
    code: Code = seen["code"]
    function = run.isolate.deoptimizer.functions[0]
    assert code.function is function
    assert frame.code is function.interpreter_code
    assert frame.deoptimized is True
    assert code.marked_for_deoptimization is True
    assert function.optimized_code is None, "new calls no longer get the deoptimized code"
    assert seen["weak_list"] == [code]
    assert code.on_weak_list
    assert seen["again"] is False, "a second failed guard in an interpreter frame deoptimizes nothing"
    stats = run.stats
    assert (stats["deopts"], stats["eager_deopts"], stats["lazy_deopts"], stats["weak_list_links"]) == (1, 1, 0, 1)
    kinds = [event.kind for event in run.result.events]
    assert kinds.index("deopt-entry") < kinds.index("materialize") < kinds.index("weak-list-link")


def test_fail_guard_outside_optimized_code_is_not_a_deopt(run_program: Any) -> None:
    outcomes: list[bool] = []

    def program(m: Mutator) -> None:
        outcomes.append(m.fail_guard())  # no frame at all
        m.enter_frame(2)
        outcomes.append(m.fail_guard())  # a plain frame
        m.leave_frame()
        m.call_optimized(0)  # interpreter code: optimize_after=2
        outcomes.append(m.fail_guard())
        m.return_from_call()

    run = run_program(program, optimize_after=2)
    assert run.result.ok, run.result.violations
    assert outcomes == [False, False, False]
    assert run.stats["deopts"] == 0 and run.stats["weak_list_links"] == 0
    assert run.isolate.heap.weak_code_list.entries() == []


def test_every_activation_of_one_code_deoptimizes_but_the_code_is_linked_once(run_program: Any) -> None:
    seen: dict[str, Any] = {}

    def program(m: Mutator) -> None:
        outer = m.call_optimized(0)
        inner = m.call_optimized(0)
        seen.update(outer=outer, inner=inner, code=outer.code, same=inner.code is outer.code)
        seen["eager"] = m.fail_guard()
        m.return_from_call()  # inner: already an interpreter frame
        seen["outer_before_return"] = (outer.code, outer.deoptimized)
        m.return_from_call()  # outer: runs the marked code, so deoptimizes lazily
        seen["weak_list"] = m.isolate.heap.weak_code_list.entries()

    run = run_program(program, optimize_after=1)
    assert run.result.ok, run.result.violations
    code = seen["code"]
    interpreter = run.isolate.deoptimizer.functions[0].interpreter_code
    assert seen["same"] and seen["eager"]
    assert seen["outer_before_return"] == (code, False), "the outer activation keeps the marked code until it returns"
    assert seen["outer"].code is interpreter and seen["outer"].deoptimized
    assert seen["inner"].code is interpreter and seen["inner"].deoptimized
    assert seen["weak_list"] == [code]
    stats = run.stats
    assert (stats["deopts"], stats["eager_deopts"], stats["lazy_deopts"]) == (2, 1, 1)
    assert stats["weak_list_links"] == 1


def _stale_frame_program(seen: dict[str, Any]) -> Callable[[Mutator], None]:
    def program(m: Mutator) -> None:
        frame = m.call_optimized(0)
        assert m.fail_guard()
        seen["frame"] = (frame.code, frame.deoptimized)
        m.isolate.collect_garbage(m)

    return program


def test_stale_frame_code_is_caught_once_a_mark_compact_released_the_code_the_frame_points_at(
    run_program: Any,
) -> None:
    seen: dict[str, Any] = {}
    run = run_program(
        _stale_frame_program(seen), optimize_after=1, mark_compact_every=1, faults=frozenset({"stale-frame-code"})
    )
    code, deoptimized = seen["frame"]
    assert isinstance(code, Code) and code.optimized and deoptimized
    assert code.map_word is Map.FREED, "the patched frame did not keep its old code alive"
    first = run.result.violations[0]
    assert first.invariant == "frames-consistent", run.result.violations
    assert "after mark-compact 1" in first.message
    assert f"runs freed code #{code.lid}" in first.message


def test_a_stale_frame_pointer_alone_is_not_reported(run_program: Any) -> None:
    # Without a mark-compact the code stays alive: nothing observable went wrong yet.
    seen: dict[str, Any] = {}
    run = run_program(_stale_frame_program(seen), optimize_after=1, faults=frozenset({"stale-frame-code"}))
    code, _ = seen["frame"]
    assert code.map_word is Map.CODE
    assert run.result.ok, run.result.violations
