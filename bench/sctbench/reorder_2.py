"""SV-COMP ``c/pthread/reorder_2.c`` (sv-benchmarks; ``reorder_2_false-unreach-call.c``).

``iSet = 2`` threads run ``setThread`` (``a = 1; b = -1;``) and ``iCheck =
2`` threads run ``checkThread``, which reaches the error unless it sees
``(a, b)`` as ``(0, 0)`` or ``(1, -1)``.  The bug: the two stores are not
atomic together, so a check between them sees ``a == 1, b == 0`` (an
atomicity violation needing one preemption of a setter between its two
stores, and a checker scheduled there).  Fixed: each setter's pair of
stores and each checker's pair of loads under one mutex.

Instrumentation: bench/sctbench/_shared.py.
"""

from __future__ import annotations

import contextlib

from bench.sctbench._shared import Memory, Program
from testbed.sched import Lock, Thread

__all__ = ["buggy", "fixed"]

I_SET = 2
I_CHECK = 2


def _program(locked: bool) -> Program:
    def main() -> None:
        memory = Memory(a=0, b=0)
        guard = Lock("guard") if locked else contextlib.nullcontext()

        def set_thread() -> None:
            with guard:
                memory.write("a", 1)
                memory.write("b", -1)

        def check_thread() -> None:
            with guard:
                a = memory.read("a")
                b = memory.read("b")
            assert (a == 0 and b == 0) or (a == 1 and b == -1), f"Bug found! a = {a}, b = {b}"

        pool = [Thread(target=set_thread, name=f"set-{i}") for i in range(I_SET)]
        pool += [Thread(target=check_thread, name=f"check-{i}") for i in range(I_CHECK)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    return Program({"main": main})


def buggy() -> Program:
    return _program(False)


def fixed() -> Program:
    return _program(True)
