"""Stack frames: slots on a mutator's stack that the GC treats as roots.

Mirrors the tagged part of a V8 interpreter or optimized frame as the GC
sees it through ``RootVisitor::VisitRootPointers`` while iterating a
thread's stack (``Isolate::Iterate`` -> ``StackFrameIterator``).
"""

from __future__ import annotations

from testbed.heap import Tagged

__all__ = ["Frame"]


class Frame:
    """``size`` tagged slots of one activation."""

    __slots__ = ("depth", "slots")

    def __init__(self, depth: int, size: int) -> None:
        self.depth = depth
        self.slots: list[Tagged] = [None] * size

    def __repr__(self) -> str:
        return f"<Frame {self.depth} x{len(self.slots)}>"
