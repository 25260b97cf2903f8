"""Functions shared by all mutators: interpreter code, and optimized code once hot.

Mirrors a ``JSFunction``/``SharedFunctionInfo`` pair with its tiering: a
function runs interpreter code until it has been called ``optimize_after``
times, then gets optimized code with deoptimization data (as TurboFan would
produce).  A deopt marks that code and drops it from the function, which
goes back to the interpreter until it is hot again; activations already
running the old optimized code keep it alive until they return or are
deoptimized lazily.

With ``embedded_objects`` the compiler also allocates, in old space, the
object the optimized code was specialized on (standing in for the maps and
constants TurboFan embeds in instructions) and the code embeds it.  The
function holds it strongly while that code is current; the code's embedded
reference is weak (:class:`testbed.heap.Code`), so once a deopt drops the
code the object lives only as long as something else keeps it.

Simplified: tiering is a call counter; optimizing is synchronous, on the
calling thread under the function's lock (no concurrent compiler, no
feedback); a function has at most one optimized code at a time.
"""

from __future__ import annotations

import random

from testbed.deopt.translation import DeoptimizationData
from testbed.heap import Code, Heap, HeapObject, Kind, ThreadAllocator
from testbed.sched import Lock, point

__all__ = ["Function"]


class Function:
    """Function ``index`` of the isolate; its code pointer is guarded by a lock.

    The ``optimize_after``-th call since the function last (de)optimized is
    the first to run optimized code.
    """

    def __init__(self, index: int, heap: Heap, seed: int, optimize_after: int, captured_arrays: bool = False) -> None:
        self.index = index
        self.name = f"f{index}"
        self.heap = heap
        self.lock = Lock(f"function-{index}")
        self.optimize_after = optimize_after
        self.captured_arrays = captured_arrays
        self._rng = random.Random(seed)
        self.frame_size = self._rng.randint(3, 5)
        self.context_fields = self._rng.randint(2, 3)
        self.interpreter_code = heap.allocate_code(False, self, None)
        self.optimized_code: Code | None = None
        #: what the current optimized code was specialized on (a strong root while it is current)
        self.specialized: HeapObject | None = None
        self.calls = 0
        self.optimizations = 0

    def code_for_call(self, embed_from: ThreadAllocator | None = None) -> Code:
        """The code a new activation runs; tiers up when the function is hot.

        ``embed_from``: optimized code embeds an old object allocated there.
        """
        with self.lock:
            point("function-code-read", self.name)
            self.calls += 1
            if self.optimized_code is None and self.calls >= self.optimize_after:
                data = DeoptimizationData.generate(
                    self._rng, self.frame_size, self.context_fields, points=3, arrays=self.captured_arrays
                )
                self.optimized_code = self.heap.allocate_code(True, self, data)
                if embed_from is not None:
                    specialized = embed_from.allocate(Kind.PLAIN, 1, old=True)
                    assert specialized is not None  # old-space allocation never fails
                    specialized.fields[0] = self.index  # a Smi: no old-to-young slot to record
                    self.specialized = specialized
                    self.optimized_code.embedded = [specialized]
                self.optimizations += 1
                self.calls = 0
            return self.optimized_code or self.interpreter_code

    def drop_optimized(self, code: Code) -> None:
        """After a deopt: new calls go back to the interpreter."""
        with self.lock:
            point("function-code-write", self.name)
            if self.optimized_code is code:
                self.optimized_code = None
                self.specialized = None  # the code's embedded reference is weak: nothing else holds it
                self.calls = 0  # the tiering budget starts over: hot again before re-optimizing
