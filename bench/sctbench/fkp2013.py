"""SV-COMP ``c/pthread-lit/fkp2013_false-unreach-call.c`` (sv-benchmarks; after Farzan, Kincaid, Podelski,
"Inductive Data Flow Graphs", POPL 2013).

``main`` sets ``x = 0``, starts ``thr1`` (asserts ``x < N``) and then
``N = 50`` threads ``thr2`` (``t = x; x = t + 1;``, a non-atomic
increment).  The bug: ``thr1`` may run after all 50 increments, none of
them lost, and see ``x == N``; it needs one thread scheduled last among 51
and no two increments interleaved: a many-thread bug where a walk that
rarely switches keeps one thread running and interleaves increments.
Fixed: the assertion the program guarantees (``x <= N``), as the suite's
``fkp2013_true`` states it.

Instrumentation: bench/sctbench/_shared.py.
"""

from __future__ import annotations

from bench.sctbench._shared import Memory, Program
from testbed.sched import Thread

__all__ = ["buggy", "fixed"]

N = 50


def _program(bound: int) -> Program:
    def main() -> None:
        memory = Memory(x=0)
        memory.write("x", 0)

        def thr1() -> None:
            x = memory.read("x")
            assert x < bound, f"x = {x}"

        def thr2() -> None:
            t = memory.read("x")
            memory.write("x", t + 1)

        threads = [Thread(target=thr1, name="thr1")]
        threads[0].start()
        for i in range(N):
            threads.append(Thread(target=thr2, name=f"thr2-{i}"))
            threads[-1].start()
        for thread in threads:
            thread.join()  # the C main returns without joining; the schedule ends with every thread

    return Program({"main": main})


def buggy() -> Program:
    return _program(N)


def fixed() -> Program:
    return _program(N + 1)
