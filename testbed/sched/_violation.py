"""What a run found: a broken invariant, with where and when it broke.

Lives in the lowest layer because the lowest layer can already find one: a
wait that outlives its timeout while no thread makes progress is a
``safepoint-liveness`` violation (V8's equivalent is a safepoint that never
completes, seen as a hung process).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from testbed.sched._stacks import thread_stacks

__all__ = ["Violation", "WaitTimeout"]


@dataclasses.dataclass(frozen=True)
class Violation:
    """One broken invariant.

    ``invariant`` is a stable name from the invariant catalogue
    (docs/design.md, 'Invariants'); ``step`` is the number of scheduling
    points the run had passed when the checker saw it;
    ``thread`` is the thread that saw it; ``stacks`` is filled for liveness
    and deadlock reports.
    """

    invariant: str
    message: str
    step: int = 0
    thread: str = ""
    stacks: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "invariant": self.invariant,
            "message": self.message,
            "step": self.step,
            "thread": self.thread,
        }
        if self.stacks:
            data["stacks"] = self.stacks
        return data


class WaitTimeout(Exception):
    """A free-mode wait ran out of patience; carries every thread's stack.

    ``timeout`` is the wait's timeout, ``waited`` how long it really waited
    (longer while other threads kept making progress), ``reason`` why it
    may not wait longer (no progress anywhere, or the hard cap).
    """

    def __init__(self, what: str, timeout: float, waited: float | None = None, reason: str = "") -> None:
        waited = timeout if waited is None else waited
        shown = f"{timeout:g}s" if waited < 2 * timeout else f"{waited:.1f}s"
        super().__init__(f"waited {shown} for {what}" + (f" ({reason})" if reason else ""))
        self.what = what
        self.timeout = timeout
        self.waited = waited
        self.reason = reason
        self.stacks = thread_stacks()
