"""Checks of code objects: the weak list of deoptimized code and the frames that run code.

The weak list (historic V8's ``DEOPTIMIZED_CODE_LIST``) keeps nothing
alive; a mark-compact must unlink and release exactly the entries no
activation and no function still uses.  These checks walk the
``next_code_link`` chain and the code pages themselves (:mod:`testbed.check.raw`)
and decide liveness with their own rule (:func:`testbed.check.raw.code_roots`),
never with the collector's marking:

* ``weak-list-wellformed``: the chain ends, holds only optimized code marked
  for deoptimization, each once, nothing freed;
* ``weak-list-complete``: every live code object marked for deoptimization
  is on it;
* ``weak-list-cleared``: after a mark-compact (or, with concurrent sweeping,
  by the next pause or the end of the run) no entry that no one uses is
  left, and no code someone uses was freed;
* ``frames-consistent``: no frame points at dead code or at something that
  is not code;
* ``no-dangling`` for code: no live code object embeds a freed or zapped
  object (V8's heap verifier visits a code object's embedded pointers
  through its relocation entries the same way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.check import raw
from testbed.check.findings import Findings
from testbed.heap import Code, HeapObject

if TYPE_CHECKING:
    from testbed.runtime import Isolate

__all__ = ["CodeChecks"]

#: entries walked at most: a longer chain is taken for a cycle
_LIMIT = 10_000


class CodeChecks:
    """Weak-list and frame checks; remembers what a concurrent sweep still owes."""

    def __init__(self) -> None:
        # entries the last mark-compact left unused, which a concurrent sweep
        # must have unlinked by the next pause (or the end of the run)
        self._condemned: list[Code] = []

    @staticmethod
    def weak_list(isolate: Isolate, found: Findings) -> None:
        found.evaluate("weak-list-wellformed", "weak-list-complete")
        entries, cycle = raw.weak_list(isolate, _LIMIT)
        if cycle or len(entries) == _LIMIT:
            found.add("weak-list-wellformed", "the weak list has a cycle (an entry is linked twice)")
        for code in entries:
            if not isinstance(code, Code) or not code.optimized or not code.marked_for_deoptimization:
                found.add("weak-list-wellformed", f"#{code.lid} on the weak list is not deoptimized code")
            if raw.death(code) is not None:
                found.add("weak-list-wellformed", f"code #{code.lid} on the weak list was {raw.death(code)}")
        linked = {code.lid for code in entries}
        for page in isolate.heap.code_space.pages:
            for code in raw.objects_on(page):
                if (
                    isinstance(code, Code)
                    and code.marked_for_deoptimization
                    and raw.death(code) is None
                    and code.lid not in linked
                ):
                    found.add("weak-list-complete", f"deoptimized code #{code.lid} is alive but not on the weak list")

    @staticmethod
    def frames(isolate: Isolate, found: Findings) -> None:
        found.evaluate("frames-consistent")
        for mutator in isolate.mutators:
            for frame in mutator.frames:
                code = frame.code
                if code is None:
                    continue
                dead = raw.death(code)
                if dead is not None:
                    found.add("frames-consistent", f"{mutator.name} frame {frame.depth} runs {dead} code #{code.lid}")
                elif not isinstance(code, Code):
                    found.add("frames-consistent", f"{mutator.name} frame {frame.depth} runs #{code.lid}, not code")

    @staticmethod
    def embedded(isolate: Isolate, found: Findings) -> None:
        """No live code object on the code pages embeds a dead object."""
        found.evaluate("no-dangling")
        for page in isolate.heap.code_space.pages:
            for code in raw.objects_on(page):
                if not isinstance(code, Code) or raw.death(code) is not None:
                    continue
                for index, value in enumerate(code.embedded):
                    if isinstance(value, HeapObject) and (dead := raw.death(value)) is not None:
                        what = "marked for deoptimization" if code.marked_for_deoptimization else "current"
                        found.add(
                            "no-dangling",
                            f"code #{code.lid} ({what}) embeds #{value.lid} at {index}, a {dead} object",
                        )

    def after_mark_compact(self, isolate: Isolate, found: Findings, concurrent_sweeping: bool) -> None:
        """Unused entries gone (or owed by the sweeper), used code not freed."""
        found.evaluate("weak-list-cleared")
        live = raw.code_roots(isolate)
        entries, _ = raw.weak_list(isolate, _LIMIT)
        condemned = [code for code in entries if code.lid not in live]
        if concurrent_sweeping:
            self._condemned = condemned  # the sweeper has until the next pause
        else:
            for code in condemned:
                found.add("weak-list-cleared", f"unused code #{code.lid} is still on the weak list")
        for code in live.values():
            if raw.death(code) == "freed":
                found.add("weak-list-cleared", f"code #{code.lid} was freed while still in use")

    def condemned_unlinked(self, isolate: Isolate, found: Findings) -> None:
        """What the last concurrent sweep owed: every condemned entry is off the list."""
        if not self._condemned:
            return
        found.evaluate("weak-list-cleared")
        entries, _ = raw.weak_list(isolate, _LIMIT)
        on_list = {code.lid for code in entries}
        for code in self._condemned:
            if code.lid in on_list:
                found.add("weak-list-cleared", f"unused code #{code.lid} is still on the weak list after sweeping")
        self._condemned = []
