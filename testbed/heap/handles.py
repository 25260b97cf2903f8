"""Handles and handle scopes: how mutator code holds heap values safely.

Mirrors V8's ``HandleScope``/``Handle<T>`` (src/handles/handles.h): code
never keeps a raw object pointer across a point where a GC may move it; it
keeps a handle, an index into a scope's block of slots, and the GC updates
the slots as a root set.  Closing a scope drops all its handles at once.

Simplified: each scope owns a plain list of slots, and a handle of a closed
scope raises StaleHandleError when used instead of reading a slot that may
have been reused.
"""

from __future__ import annotations

from testbed.heap.objects import HeapObject, Tagged

__all__ = ["Handle", "HandleScope", "StaleHandleError"]


class StaleHandleError(RuntimeError):
    """A handle was used after its scope closed (a bug in workload code)."""


class HandleScope:
    """A block of root slots, closed in LIFO order."""

    __slots__ = ("closed", "depth", "slots")

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.slots: list[Tagged] = []
        self.closed = False

    def new_handle(self, value: HeapObject) -> Handle:
        self.slots.append(value)
        return Handle(self, len(self.slots) - 1)


class Handle:
    """Slot ``index`` of ``scope``; read it through :meth:`get`."""

    __slots__ = ("index", "scope")

    def __init__(self, scope: HandleScope, index: int) -> None:
        self.scope = scope
        self.index = index

    def get(self) -> HeapObject:
        if self.scope.closed:
            raise StaleHandleError(f"handle {self.index} of a closed scope at depth {self.scope.depth}")
        value = self.scope.slots[self.index]
        assert isinstance(value, HeapObject)
        return value

    def __repr__(self) -> str:
        return f"<Handle {self.scope.depth}/{self.index}>"
