"""Stack frames: slots on a mutator's stack that the GC treats as roots.

Mirrors the tagged part of a V8 interpreter or optimized frame as the GC
sees it through ``RootVisitor::VisitRootPointers`` while iterating a
thread's stack (``Isolate::Iterate`` -> ``StackFrameIterator``).

Simplified: a frame is its tagged slots plus the code it runs, with no
return address or saved registers; every slot is a root, and rebuilding the
frame for a deopt replaces its code and sets ``deoptimized``.
"""

from __future__ import annotations

from testbed.heap import HeapObject, Tagged

__all__ = ["Frame"]


class Frame:
    """``size`` tagged slots of one activation, and the code it runs.

    ``code`` is None for a plain frame (a builtin's, as far as the GC cares),
    else the interpreter or optimized code object of the activation: the GC
    marks it through the frame, as V8 visits a frame's code.  A call's
    frame holds its context in slot 0 and the argument its caller passed in
    its last slot; ``deopt_point`` names the deopt point
    the activation is stopped at, ``deoptimized`` says the deoptimizer rebuilt
    it as an interpreter frame.  ``lazy_deopt`` says its return address was
    patched to the lazy-deopt trampoline (only with the isolate's Locker,
    where the deoptimizer patches activations as V8's ``ActivationsFinder``
    does, instead of each thread reading the code's mark on return).
    """

    __slots__ = ("code", "deopt_point", "deoptimized", "depth", "lazy_deopt", "slots")

    def __init__(self, depth: int, size: int, code: HeapObject | None = None) -> None:
        self.depth = depth
        self.slots: list[Tagged] = [None] * size
        self.code = code
        self.deopt_point = 0
        self.deoptimized = False
        self.lazy_deopt = False

    def __repr__(self) -> str:
        return f"<Frame {self.depth} x{len(self.slots)}{' ' + repr(self.code) if self.code else ''}>"
