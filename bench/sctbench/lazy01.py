"""SV-COMP ``c/pthread/lazy01_false-unreach-call.c`` (sv-benchmarks; also ``c/pthread/lazy01.c``).

Three threads share ``data`` (0) under one mutex: ``thread1`` adds 1,
``thread2`` adds 2, ``thread3`` reaches the error when it sees ``data >= 3``.
The bug: an order violation, no data race -- the assertion assumes
``thread3`` runs before both writers have, and a schedule that runs
``thread1`` and ``thread2`` first breaks it.  Fixed: the assertion states
what the locking does guarantee (``data`` is a sum of a subset of {1, 2},
so ``data <= 3``).

Instrumentation: bench/sctbench/_shared.py (a point at every shared read
and write; the mutex's own points).
"""

from __future__ import annotations

from bench.sctbench._shared import Memory, Program
from testbed.sched import Lock, Thread

__all__ = ["buggy", "fixed"]


def _program(limit: int) -> Program:
    def main() -> None:
        memory = Memory(data=0)
        mutex = Lock("mutex")

        def thread1() -> None:
            with mutex:
                memory.write("data", memory.read("data") + 1)

        def thread2() -> None:
            with mutex:
                memory.write("data", memory.read("data") + 2)

        def thread3() -> None:
            with mutex:
                data = memory.read("data")
                assert data < limit, f"ERROR reached: data = {data}"

        threads = [Thread(target=f, name=f.__name__) for f in (thread1, thread2, thread3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return Program({"main": main})


def buggy() -> Program:
    return _program(3)


def fixed() -> Program:
    return _program(4)
