"""The run's event log: what happened, on which thread, at which step.

A small, ordered record of the moments a reader of the waltz cares about
(pauses, flushes, scavenge tasks, deopt entries, materialization, weak-list
links and unlinks), kept so ``testbed run --explain`` can tell the story of
one deopt that met a scavenge.  Appends come from many threads; a list
append is atomic on either build (3.13t locks the list), the count of
dropped events is kept per thread (:class:`~testbed.sched.Tally`), and the
step makes the order readable in free mode too.
"""

from __future__ import annotations

import dataclasses
import threading

from testbed.sched import Tally, active_scheduler

__all__ = ["Event", "EventLog"]


@dataclasses.dataclass(frozen=True)
class Event:
    step: int
    thread: str
    kind: str
    detail: str


class EventLog:
    """Append-only, bounded (the oldest events are kept, the rest counted)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.events: list[Event] = []
        self._dropped = Tally(("dropped",))
        self._limit = limit

    def record(self, kind: str, detail: str = "") -> None:
        if len(self.events) >= self._limit:
            self._dropped.add("dropped")
            return
        self.events.append(Event(active_scheduler().steps, threading.current_thread().name, kind, detail))

    @property
    def dropped(self) -> int:
        """Events not kept (the log was full)."""
        return self._dropped["dropped"]
