"""SV-COMP ``c/pthread/fib_bench_false-unreach-call.c`` (sv-benchmarks; also ``fib_bench-1.c``).

``i = j = 1``; ``t1`` does ``i += j`` and ``t2`` does ``j += i``, ``NUM =
5`` times each, every update atomic (``__VERIFIER_atomic_begin/end``);
``main`` starts both and, without joining, reads ``i`` and then ``j``
(each atomically) and reaches the error if ``i >= 144`` or ``j >= 144``.
The bug: only the schedule that alternates the two threads perfectly,
all ten updates, and then runs ``main``'s check reaches ``j = 144`` -- a
deep bug (nine preemptions), the suite's test of exhaustive search.
Fixed: the bound that holds in every schedule (``> 144``, the
``fib_bench_true`` variant).

Instrumentation: bench/sctbench/_shared.py (each atomic update one point).
"""

from __future__ import annotations

from bench.sctbench._shared import Memory, Program
from testbed.sched import Thread

__all__ = ["buggy", "fixed"]

NUM = 5


def _program(bound: int) -> Program:
    def main() -> None:
        memory = Memory(i=1, j=1)

        def t1() -> None:
            for _ in range(NUM):
                memory.atomic("i", "j")
                memory.poke("i", memory.peek("i") + memory.peek("j"))

        def t2() -> None:
            for _ in range(NUM):
                memory.atomic("i", "j")
                memory.poke("j", memory.peek("j") + memory.peek("i"))

        threads = [Thread(target=t1, name="t1"), Thread(target=t2, name="t2")]
        for thread in threads:
            thread.start()
        cond_i = memory.read("i") >= bound
        cond_j = memory.read("j") >= bound
        assert not (cond_i or cond_j), "ERROR reached: i or j reached the bound"
        for thread in threads:
            thread.join()

    return Program({"main": main})


def buggy() -> Program:
    return _program(144)


def fixed() -> Program:
    return _program(145)
