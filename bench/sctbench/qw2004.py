"""SV-COMP ``c/pthread-lit/qw2004_false-unreach-call.c`` (sv-benchmarks; after Qadeer, Wu, "KISS: Keep It
Simple and Sequential", PLDI 2004: the Bluetooth driver, heap accesses removed).

``main`` starts ``BCSP_PnpStop`` and runs ``BCSP_PnpAdd`` itself.  Add
increments ``pendingIo`` unless ``stoppingFlag`` is set
(``BCSP_IoIncrement``), asserts ``!stopped`` if it did, and decrements
(``BCSP_IoDecrement``: an atomic decrement; at 0 it sets
``stoppingEvent``).  Stop sets ``stoppingFlag``, decrements, waits for
``stoppingEvent`` (assume) and sets ``stopped``.  The bug: the flag test
and the increment are not atomic together -- Add tests the flag (clear),
Stop sets it, drops ``pendingIo`` to 0, sees the event and stops; Add
then increments and finds the driver stopped.  Fixed: the test and the
increment as one atomic block (the repair KISS's paper discusses).

Instrumentation: bench/sctbench/_shared.py.
"""

from __future__ import annotations

from bench.sctbench._shared import Memory, Program
from testbed.sched import Thread

__all__ = ["buggy", "fixed"]


def _program(atomic_increment: bool) -> Program:
    def main() -> None:
        memory = Memory(waits=True, stoppingFlag=0, pendingIo=1, stoppingEvent=0, stopped=0)

        def io_increment() -> int:
            if atomic_increment:
                memory.atomic("stoppingFlag", "pendingIo")
                if memory.peek("stoppingFlag"):
                    return -1
                memory.poke("pendingIo", memory.peek("pendingIo") + 1)
                return 0
            if memory.read("stoppingFlag"):
                return -1
            memory.write("pendingIo", memory.read("pendingIo") + 1)
            return 0

        def io_decrement() -> None:
            memory.atomic("pendingIo")  # __VERIFIER_atomic_dec
            pending = memory.peek("pendingIo") - 1
            memory.poke("pendingIo", pending)
            if pending == 0:
                memory.write("stoppingEvent", 1)

        def pnp_add() -> None:
            if io_increment() == 0:
                assert not memory.read("stopped"), "the driver stopped while an I/O was pending"
            io_decrement()

        def pnp_stop() -> None:
            memory.write("stoppingFlag", 1)
            io_decrement()
            memory.await_atomic(("stoppingEvent",), lambda: bool(memory.peek("stoppingEvent")))
            memory.write("stopped", 1)

        stopper = Thread(target=pnp_stop, name="BCSP_PnpStop")
        stopper.start()
        pnp_add()
        stopper.join()  # the C main returns; here the schedule ends when every thread has

    return Program({"main": main})


def buggy() -> Program:
    return _program(False)


def fixed() -> Program:
    return _program(True)
