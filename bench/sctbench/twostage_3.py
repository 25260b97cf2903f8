"""SV-COMP ``c/pthread/twostage_3_false-unreach-call.c`` (sv-benchmarks; ``twostage_3.c``).

``iTThreads = 2`` threads run ``funcA``: under ``data1Lock`` set
``data1Value = 1``; then under ``data2Lock`` set ``data2Value =
data1Value + 1``.  ``iRThreads = 1`` thread runs ``funcB``: under
``data1Lock`` return if ``data1Value == 0``, else ``t1 = data1Value``;
then under ``data2Lock`` ``t2 = data2Value``; the error is reached when
``t2 != t1 + 1``.  The bug: an atomicity violation between the two
stages -- ``funcB`` can read both values after ``funcA``'s first stage and
before its second (``t1 = 1``, ``t2 = 0``).  Fixed: the two-stage update
and the two-stage read each hold ``data1Lock`` across both stages.

Instrumentation: bench/sctbench/_shared.py.
"""

from __future__ import annotations

from bench.sctbench._shared import Memory, Program
from testbed.sched import Lock, Thread

__all__ = ["buggy", "fixed"]

I_T_THREADS = 2
I_R_THREADS = 1


def _program(whole: bool) -> Program:
    def main() -> None:
        memory = Memory(data1Value=0, data2Value=0)
        data1_lock, data2_lock = Lock("data1Lock"), Lock("data2Lock")

        def func_a() -> None:
            data1_lock.acquire()
            memory.write("data1Value", 1)
            if not whole:
                data1_lock.release()
            with data2_lock:
                memory.write("data2Value", memory.read("data1Value") + 1)
            if whole:
                data1_lock.release()

        def func_b() -> None:
            data1_lock.acquire()
            if memory.read("data1Value") == 0:
                data1_lock.release()
                return
            t1 = memory.read("data1Value")
            if not whole:
                data1_lock.release()
            with data2_lock:
                t2 = memory.read("data2Value")
            if whole:
                data1_lock.release()
            assert t2 == t1 + 1, f"Bug found! t1 = {t1}, t2 = {t2}"

        pool = [Thread(target=func_a, name=f"funcA-{i}") for i in range(I_T_THREADS)]
        pool += [Thread(target=func_b, name=f"funcB-{i}") for i in range(I_R_THREADS)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    return Program({"main": main})


def buggy() -> Program:
    return _program(False)


def fixed() -> Program:
    return _program(True)
