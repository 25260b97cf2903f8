"""Code objects in code space, and the weak list of deoptimized code.

Mirrors V8's ``Code``/``InstructionStream`` objects as the GC and the
deoptimizer see them: a code object is either interpreter code or
optimized code; optimized code carries deoptimization data and, once a
deopt has marked it (``marked_for_deoptimization``), is linked through its
intrusive ``next_code_link`` onto the isolate's list of deoptimized code
(historic ``DEOPTIMIZED_CODE_LIST``, walked by ``VisitWeakList`` in
src/heap/objects-visiting.cc).  The list is weak: it keeps nothing alive.
A mark-compact unlinks and frees every entry no activation refers to.
Optimized code may embed heap objects (``embedded``) the way V8's
instructions embed maps and constants through relocation entries; V8
treats those in optimized code as weak, and so does the model: they are no
fields, so nothing traces them.

Simplified: one list per isolate, where V8 kept one per native context (next
to a list of optimized code); its lock is there because several mutator
threads link onto it. A code object's function and deoptimization data are
plain attributes, not heap fields: the mark-compact keeps code alive through
frames and functions instead.

The list is heap data, guarded by its own lock; appending is the
deoptimizer's business (mutator threads), unlinking the collector's.  Fault
``unlocked-weak-unlink`` unlinks without the lock: an unlink that rewrites
the head can erase an entry another thread appended meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from testbed.heap.objects import HeapObject, Kind, Tagged
from testbed.sched import Lock, point

if TYPE_CHECKING:
    from testbed.heap.pages import Page

__all__ = ["Code", "WeakCodeList"]


class Code(HeapObject):
    """A code object; ``function`` and ``deopt_data`` are opaque to the heap."""

    __slots__ = (
        "deopt_data",
        "embedded",
        "function",
        "marked_for_deoptimization",
        "next_code_link",
        "on_weak_list",
        "optimized",
    )

    def __init__(
        self, lid: int, page: Page, offset: int, optimized: bool, function: object, deopt_data: object
    ) -> None:
        body: list[Tagged] = [None, None]  # instruction words, as far as sizes go
        super().__init__(lid, Kind.CODE, body, page, offset)
        self.optimized = optimized
        self.function = function
        self.deopt_data = deopt_data
        self.marked_for_deoptimization = False
        self.next_code_link: Code | None = None
        self.on_weak_list = False
        #: heap objects the instructions embed (V8: ``RelocInfo::EMBEDDED_OBJECT``
        #: targets), held weakly: not fields, so no collector traces them; the
        #: deoptimizer clears them (None) when it marks the code
        self.embedded: list[Tagged] = []

    def __repr__(self) -> str:
        what = "optimized" if self.optimized else "interpreter"
        return f"<Code #{self.lid} {what}{' marked' if self.marked_for_deoptimization else ''}>"


class WeakCodeList:
    """Head pointer plus ``next_code_link`` chain, under one lock."""

    def __init__(self, faults: frozenset[str] = frozenset()) -> None:
        self.head: Code | None = None
        self.lock = Lock("weak-code-list")
        self.links = 0
        self.unlinks = 0
        self._unlocked_unlink = "unlocked-weak-unlink" in faults

    def link_once(self, code: Code) -> bool:
        """Prepend ``code`` unless it is already on the list (the deoptimizer, on a mutator thread).

        The check is under the lock: several threads may deoptimize
        activations of the same code at once, and it must be linked once.
        """
        with self.lock:
            if code.on_weak_list:
                return False
            point("weak-list-read-head", code.lid)
            head = self.head
            code.next_code_link = head
            code.on_weak_list = True
            point("weak-list-write-head", code.lid)
            self.head = code
            self.links += 1
            return True

    def unlink_if(self, dead: Callable[[Code], bool]) -> list[Code]:
        """Unlink every entry ``dead`` says is dead; the unlinked entries."""
        if self._unlocked_unlink:
            return self._unlink(dead)
        with self.lock:
            return self._unlink(dead)

    def _unlink(self, dead: Callable[[Code], bool]) -> list[Code]:
        removed: list[Code] = []
        previous: Code | None = None
        point("weak-list-read-head", None)
        node = self.head
        while node is not None:
            following = node.next_code_link
            if dead(node):
                point("weak-list-unlink", node.lid)
                if previous is None:
                    self.head = following
                else:
                    previous.next_code_link = following
                node.on_weak_list = False
                node.next_code_link = None
                removed.append(node)
            else:
                previous = node
            node = following
        self.unlinks += len(removed)
        return removed

    def entries(self, limit: int = 1_000_000) -> list[Code]:
        """The entries in list order, stopping at ``limit`` (a cycle guard)."""
        found: list[Code] = []
        node = self.head
        while node is not None and len(found) < limit:
            found.append(node)
            node = node.next_code_link
        return found
