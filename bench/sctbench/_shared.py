"""What every port shares: the program record and instrumented shared memory.

The instrumentation rule of every port (SCTBench's, Thomson et al. TOPC
2016 section 4.1: a scheduling point before every visible operation): each
read and each write of a shared variable (a C global, or heap memory
reachable from two threads) goes through :class:`Memory`, which calls
``point(kind, obj=name, write=...)`` first, naming the variable (an array
cell by ``name[i]``); every lock, condition and thread operation is a
scheduling point of the drop-in itself (``testbed.sched.Lock``,
``testbed.sched.Thread``).  Thread-local computation has no point.  A
``__VERIFIER_atomic_*`` block of the original runs without a point inside
(one visible operation); ``__VERIFIER_assume(c)`` inside one becomes a
wait (:meth:`Memory.await_atomic`) on a condition that every write
notifies, the way a systematic tester treats a blocked assume: the thread
cannot pass until another thread makes ``c`` true (and a state where no
thread can is a deadlock, not a spin).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from testbed.sched import Condition, point

__all__ = ["Memory", "Program"]


@dataclasses.dataclass(frozen=True)
class Program:
    """``explore``'s arguments for one program: the threads, and ``setup``/``check`` when it has them."""

    threads: dict[str, Callable[..., object]]
    setup: Callable[[], object] | None = None
    check: Callable[..., object] | None = None

    def arguments(self) -> dict[str, Any]:
        return {"threads": self.threads, "setup": self.setup, "check": self.check}


class Memory:
    """Shared variables, each access a scheduling point naming the variable."""

    def __init__(self, waits: bool = False, **initial: Any) -> None:
        self._cells: dict[str, Any] = dict(initial)
        #: notified at every write when some thread may wait for a condition (``waits``)
        self._changed = Condition(name="memory") if waits else None

    def read(self, name: str) -> Any:
        point("read", name, obj=name, write=False)
        return self._cells[name]

    def write(self, name: str, value: Any) -> None:
        point("write", name, obj=name, write=True)
        self._cells[name] = value
        self._notify()

    def peek(self, name: str) -> Any:
        """A read inside an atomic block (no point: the block is one visible operation)."""
        return self._cells[name]

    def poke(self, name: str, value: Any) -> None:
        """A write inside an atomic block (no point before it; waiters are told after it)."""
        self._cells[name] = value
        self._notify()

    def _notify(self) -> None:
        changed = self._changed
        if changed is not None:
            with changed:
                changed.notify_all()

    def atomic(self, *names: str) -> None:
        """The points before an atomic block that touches ``names`` (one each, taken as writes).

        The block itself runs after the last one, with no point inside.
        """
        for name in names:
            point("atomic", name, obj=name, write=True)

    def await_atomic(self, names: tuple[str, ...], condition: Callable[[], bool]) -> None:
        """``__VERIFIER_atomic { __VERIFIER_assume(condition); ... }``: wait until ``condition()``.

        Returns with no point after the last check, so the caller's
        ``poke``s complete the atomic block (one thread runs between points).
        """
        changed = self._changed
        assert changed is not None, "Memory(waits=True) for a program that waits"
        self.atomic(*names)
        with changed:
            while not condition():
                changed.wait()
