"""Handles: root slots in a scope, unusable once the scope closes."""

from __future__ import annotations

import pytest

from testbed.heap import HandleScope, StaleHandleError

pytestmark = pytest.mark.timeout(30)


def test_handle_reads_its_scope_slot(make):
    scope = HandleScope(0)
    a, b = make(1), make(1, old=True)

    ha, hb = scope.new_handle(a), scope.new_handle(b)

    assert (ha.index, hb.index) == (0, 1)
    assert ha.get() is a
    assert hb.get() is b
    assert scope.slots == [a, b]


def test_handle_sees_the_gc_updating_its_slot(make):
    # The scope's slots are roots: a collector that moves the object rewrites the slot.
    scope = HandleScope(0)
    handle = scope.new_handle(make(1))
    copy = make(1, old=True)

    scope.slots[handle.index] = copy

    assert handle.get() is copy


def test_handle_to_a_closed_scope_raises_stale_handle_error(make):
    scope = HandleScope(2)
    handle = scope.new_handle(make(1))

    scope.closed = True

    with pytest.raises(StaleHandleError, match="closed scope at depth 2"):
        handle.get()


def test_closing_a_scope_leaves_handles_of_outer_scope_valid(make):
    outer, inner = HandleScope(0), HandleScope(1)
    kept = outer.new_handle(make(1))
    dropped = inner.new_handle(make(1))

    inner.closed = True

    assert kept.get() is outer.slots[0]
    with pytest.raises(StaleHandleError):
        dropped.get()


def test_stale_handle_error_is_a_runtime_error():
    assert issubclass(StaleHandleError, RuntimeError)
