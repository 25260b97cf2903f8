"""SCTBench CB ``benchmarks/conc-bugs/stringbuffer-jdk1.4/main.cpp`` (Jie Yu's model of the JDK 1.4 StringBuffer bug).

A shared ``buffer = StringBuffer("abc")``; a thread runs
``buffer.erase(0, 3); buffer.append("abc")``; ``main`` runs ``sb =
StringBuffer(); sb.append(buffer)``.  Every method holds its own buffer's
lock (Java's ``synchronized``), and ``append(StringBuffer other)`` is JDK
1.4's: under ``this``'s lock, ``len = other.length()`` and then
``other.getChars(0, len, value, count)``, each locking ``other`` on its
own.  The bug (JDK bug 4810210, the classic atomicity violation of Flanagan
and Qadeer's Atomizer): between the two calls the other thread erases
``buffer``, and ``getChars`` is asked for ``len`` characters of a buffer
that now has fewer (``StringIndexOutOfBoundsException``; an assertion in
the C++ port).  The port follows main.cpp and the JDK 1.4 methods it
models; the C++ header (stringbuffer.hpp) is not quoted, so the
internal array bookkeeping is reduced to the ``count`` field the bug is
about.  Fixed as JDK 1.5 did: ``append`` holds ``other``'s lock across
both calls.

Instrumentation: bench/sctbench/_shared.py (each buffer's ``count`` and
contents a shared variable; the locks are ``testbed.sched.RLock``s, Java
monitors being re-entrant).
"""

from __future__ import annotations

import contextlib

from bench.sctbench._shared import Memory, Program
from testbed.sched import RLock, Thread

__all__ = ["buggy", "fixed"]


class StringBuffer:
    """The synchronized methods the program calls, on a buffer of characters in shared memory."""

    def __init__(self, memory: Memory, name: str, text: str = "") -> None:
        self.memory, self.name = memory, name
        self.lock = RLock(f"{name}.lock")
        memory.poke(f"{name}.count", len(text))
        memory.poke(f"{name}.value", text)

    def length(self) -> int:
        with self.lock:
            return self.memory.read(f"{self.name}.count")

    def get_chars(self, begin: int, end: int) -> str:
        with self.lock:
            count = self.memory.read(f"{self.name}.count")
            assert end <= count, f"StringIndexOutOfBoundsException: {end} > count {count}"
            return self.memory.read(f"{self.name}.value")[begin:end]

    def erase(self, start: int, end: int) -> None:
        with self.lock:
            value = self.memory.read(f"{self.name}.value")
            self.memory.write(f"{self.name}.value", value[:start] + value[end:])
            self.memory.write(f"{self.name}.count", self.memory.read(f"{self.name}.count") - (end - start))

    def append(self, text: str) -> None:
        with self.lock:
            value = self.memory.read(f"{self.name}.value")
            self.memory.write(f"{self.name}.value", value + text)
            self.memory.write(f"{self.name}.count", self.memory.read(f"{self.name}.count") + len(text))

    def append_buffer(self, other: StringBuffer, hold_other: bool) -> None:
        with self.lock, other.lock if hold_other else contextlib.nullcontext():
            length = other.length()
            self.append(other.get_chars(0, length))


def _program(hold_other: bool) -> Program:
    def main() -> None:
        memory = Memory()
        buffer = StringBuffer(memory, "buffer", "abc")

        def thread_main() -> None:
            buffer.erase(0, 3)
            buffer.append("abc")

        thread = Thread(target=thread_main, name="thread_main")
        thread.start()
        sb = StringBuffer(memory, "sb")
        sb.append_buffer(buffer, hold_other)
        thread.join()

    return Program({"main": main})


def buggy() -> Program:
    return _program(False)


def fixed() -> Program:
    return _program(True)
