"""SV-COMP ``c/pthread/singleton_false-unreach-call.c`` (sv-benchmarks; also ``singleton.i``).

``main`` starts ``thread0``, which starts ``thread1`` (``v = malloc(1)``),
joins it, then starts ``thread2`` (writes ``'X'`` into ``v[0]``),
``thread3`` (writes ``'Y'``) and two more ``thread2``s, and joins them;
``main`` then asserts ``v[0] == 'X'``.  The bug (the original's comment):
"wrong, the only thread that writes 'Y' can be the last to write" -- an
order violation among racing writers.  Fixed: the assertion the program
guarantees (``v[0]`` is one of the values written).

Instrumentation: bench/sctbench/_shared.py (the cell ``v[0]``).
"""

from __future__ import annotations

from bench.sctbench._shared import Memory, Program
from testbed.sched import Thread

__all__ = ["buggy", "fixed"]


def _program(allowed: tuple[str, ...]) -> Program:
    def main() -> None:
        memory = Memory(v=None, **{"v[0]": None})

        def thread1() -> None:
            memory.write("v", "allocated")

        def thread2() -> None:
            memory.read("v")
            memory.write("v[0]", "X")

        def thread3() -> None:
            memory.read("v")
            memory.write("v[0]", "Y")

        def thread0() -> None:
            t1 = Thread(target=thread1, name="thread1")
            t1.start()
            t1.join()
            others = [
                Thread(target=thread2, name="thread2"),
                Thread(target=thread3, name="thread3"),
                Thread(target=thread2, name="thread4"),
                Thread(target=thread2, name="thread5"),
            ]
            for t in others:
                t.start()
            for t in others:
                t.join()

        t = Thread(target=thread0, name="thread0")
        t.start()
        t.join()
        value = memory.read("v[0]")
        assert value in allowed, f"v[0] = {value!r}"

    return Program({"main": main})


def buggy() -> Program:
    return _program(("X",))


def fixed() -> Program:
    return _program(("X", "Y"))
