"""SV-COMP ``c/pthread/sigma.c`` (sv-benchmarks; ``sigma_false-unreach-call.c``).

``main`` creates ``SIGMA = 16`` threads, incrementing the shared
``array_index`` before each ``pthread_create``; each thread stores 1 into
``array[array_index]``; after joining them all, ``main`` asserts the sum of
the array is ``SIGMA``.  The bug (the original's comment): "different
threads might use the same array offset when writing" -- a thread that
reads ``array_index`` late, after ``main`` incremented it again, writes
another thread's cell, and a cell stays 0.  Fixed: each thread is given
its index as its argument (``pthread_create(..., (void *) tid)``), the
usual repair.

Instrumentation: bench/sctbench/_shared.py (array cells by ``array[i]``).
"""

from __future__ import annotations

from bench.sctbench._shared import Memory, Program
from testbed.sched import Thread

__all__ = ["buggy", "fixed"]

SIGMA = 16


def _program(pass_index: bool) -> Program:
    def main() -> None:
        memory = Memory(array_index=-1, **{f"array[{i}]": 0 for i in range(SIGMA)})

        def thread(own: int) -> None:
            index = own if pass_index else memory.read("array_index")
            memory.write(f"array[{index}]", 1)

        threads = []
        for tid in range(SIGMA):
            memory.write("array_index", memory.read("array_index") + 1)
            threads.append(Thread(target=thread, args=(tid,), name=f"thread-{tid}"))
            threads[-1].start()
        for t in threads:
            t.join()
        total = sum(memory.read(f"array[{tid}]") for tid in range(SIGMA))
        assert total == SIGMA, f"sum = {total}, not {SIGMA}"

    return Program({"main": main})


def buggy() -> Program:
    return _program(False)


def fixed() -> Program:
    return _program(True)
