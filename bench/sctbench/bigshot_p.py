"""SV-COMP ``c/pthread/bigshot_p_false-unreach-call.c`` (sv-benchmarks), fixed as ``bigshot_s_true-unreach-call.c``.

``thread1`` allocates ``v = calloc(8, 1)``; ``thread2`` copies
``"Bigshot"`` into ``v`` if ``v`` is set; ``main`` starts both, joins both
and asserts ``!v || v[0] == 'B'``.  The bug: an order violation -- when
``thread2`` runs first it sees no ``v`` and copies nothing, then
``thread1`` allocates a zeroed buffer.  Fixed as the suite's sequential
twin ``bigshot_s`` does it: ``main`` joins ``thread1`` before starting
``thread2``.

Instrumentation: bench/sctbench/_shared.py (``v`` and the cell ``v[0]``).
"""

from __future__ import annotations

from bench.sctbench._shared import Memory, Program
from testbed.sched import Thread

__all__ = ["buggy", "fixed"]


def _program(sequential: bool) -> Program:
    def main() -> None:
        memory = Memory(v=None, **{"v[0]": None})

        def thread1() -> None:
            memory.write("v[0]", "\0")  # calloc: the buffer's bytes are zero before v points to it
            memory.write("v", "buffer")

        def thread2() -> None:
            if memory.read("v") is not None:
                memory.write("v[0]", "B")  # strcpy(v, "Bigshot"): its first byte is what is checked

        t1 = Thread(target=thread1, name="thread1")
        t2 = Thread(target=thread2, name="thread2")
        t1.start()
        if sequential:
            t1.join()
        t2.start()
        if not sequential:
            t1.join()
        t2.join()
        v = memory.read("v")
        assert v is None or memory.read("v[0]") == "B", "v[0] != 'B'"

    return Program({"main": main})


def buggy() -> Program:
    return _program(False)


def fixed() -> Program:
    return _program(True)
