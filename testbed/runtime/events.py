"""The run's event log: what happened, on which thread, at which step.

A small, ordered record of the moments a reader of the waltz cares about
(pauses, flushes, scavenge tasks, deopt entries, materialization, weak-list
links and unlinks), kept so ``testbed run --explain`` can tell the story of
one deopt that met a scavenge.  Appends come from many threads; a list
append is atomic, and the step makes the order readable in free mode too.
"""

from __future__ import annotations

import dataclasses
import threading

from testbed.sched import active_scheduler

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
        self.dropped = 0
        self._limit = limit

    def record(self, kind: str, detail: str = "") -> None:
        if len(self.events) >= self._limit:
            self.dropped += 1
            return
        self.events.append(Event(active_scheduler().steps, threading.current_thread().name, kind, detail))
