"""SV-COMP ``c/pthread-atomic/read_write_lock_false-unreach-call.c`` (sv-benchmarks; Threader's distribution,
after Flanagan, Freund, Qadeer, "Thread-Modular Verification for Shared-Memory Programs").

Two ``writer``s and two ``reader``s share ``w``, ``r``, ``x``, ``y``.  A
writer takes the write lock atomically (assume ``w == 0 && r == 0``, then
``w = 1``), stores ``x = 3``, and releases with ``w = 0``.  A reader takes
the read lock atomically (assume ``w == 0``, then ``r = r + 1``), copies
``l = x; y = l;``, asserts ``y == x``, and releases with ``l = r - 1; r =
l;``.  The bug: the release is not atomic, so two readers' releases can
lose one decrement the other way round -- a reader reads ``r`` (1), a
second reader takes the lock (``r = 2``), the first writes ``r = 0``:
``r`` no longer counts the second reader, a writer takes the lock and
stores ``x`` between that reader's copy and its assertion.  Fixed: the
release is one atomic decrement (``__VERIFIER_atomic``, as in the suite's
``read_write_lock_true`` variant).

Instrumentation: bench/sctbench/_shared.py (atomic blocks: one point,
the assume a wait).
"""

from __future__ import annotations

from bench.sctbench._shared import Memory, Program
from testbed.sched import Thread

__all__ = ["buggy", "fixed"]


def _program(atomic_release: bool) -> Program:
    def main() -> None:
        memory = Memory(waits=True, w=0, r=0, x=0, y=0)

        def writer() -> None:
            memory.await_atomic(("w", "r"), lambda: memory.peek("w") == 0 and memory.peek("r") == 0)
            memory.poke("w", 1)
            memory.write("x", 3)
            memory.write("w", 0)

        def reader() -> None:
            memory.await_atomic(("w", "r"), lambda: memory.peek("w") == 0)
            memory.poke("r", memory.peek("r") + 1)
            local = memory.read("x")
            memory.write("y", local)
            y, x = memory.read("y"), memory.read("x")
            assert y == x, f"y = {y}, x = {x}"
            if atomic_release:
                memory.atomic("r")
                memory.poke("r", memory.peek("r") - 1)
            else:
                local = memory.read("r") - 1
                memory.write("r", local)

        threads = [
            Thread(target=writer, name="t1-writer"),
            Thread(target=reader, name="t2-reader"),
            Thread(target=writer, name="t3-writer"),
            Thread(target=reader, name="t4-reader"),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return Program({"main": main})


def buggy() -> Program:
    return _program(False)


def fixed() -> Program:
    return _program(True)
