"""A FIFO queue on the scheduling layer's primitives: a drop-in for :class:`queue.Queue`.

Built as the standard library builds it (one mutex and three conditions on
it), but on :class:`~testbed.sched.Lock` and
:class:`~testbed.sched.Condition`, so every ``put``, ``get``,
``task_done``, ``join`` and size query is a scheduling point (the mutex's
acquire, detail: the queue's name), a blocked ``get`` or ``put`` parks
instead of sleeping, and a consumer nobody will ever feed is a deadlock
naming ``condition 'queue-1.not-empty'`` under a controlled scheduler.
``put_nowait``/``get_nowait`` (and ``block=False``) raise
:class:`queue.Full`/:class:`queue.Empty` as the standard ones do; a
``timeout`` is the wait's patience, as for every primitive here.
"""

from __future__ import annotations

import collections
import queue
from typing import Any

from testbed.sched._primitives import Condition, Lock, auto_name

__all__ = ["Queue"]


class Queue:
    """``Queue(maxsize=0, name=None)``: FIFO, unbounded when ``maxsize <= 0``."""

    def __init__(self, maxsize: int = 0, name: str | None = None) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool):
            raise TypeError(f"queue maxsize must be an integer, got {maxsize!r}")
        self.name = auto_name("queue") if name is None else name
        self.maxsize = maxsize
        self.queue: collections.deque[Any] = collections.deque()
        self.mutex = Lock(self.name)
        self.not_empty = Condition(self.mutex, f"{self.name}.not-empty")
        self.not_full = Condition(self.mutex, f"{self.name}.not-full")
        self.all_tasks_done = Condition(self.mutex, f"{self.name}.all-tasks-done")
        self.unfinished_tasks = 0

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        with self.mutex:
            if self.maxsize > 0:
                if not block:
                    if len(self.queue) >= self.maxsize:
                        raise queue.Full
                else:
                    self.not_full.wait_for(lambda: len(self.queue) < self.maxsize, timeout)
            self.queue.append(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        with self.mutex:
            if not block:
                if not self.queue:
                    raise queue.Empty
            else:
                self.not_empty.wait_for(lambda: len(self.queue) > 0, timeout)
            item = self.queue.popleft()
            self.not_full.notify()
            return item

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def task_done(self) -> None:
        with self.mutex:
            unfinished = self.unfinished_tasks - 1
            if unfinished < 0:
                raise ValueError(f"task_done() called too many times on queue {self.name!r}")
            self.unfinished_tasks = unfinished
            if unfinished == 0:
                self.all_tasks_done.notify_all()

    def join(self) -> None:
        """Wait until every item put has been marked done (``task_done``)."""
        with self.mutex:
            self.all_tasks_done.wait_for(lambda: self.unfinished_tasks == 0)

    def qsize(self) -> int:
        with self.mutex:
            return len(self.queue)

    def empty(self) -> bool:
        with self.mutex:
            return not self.queue

    def full(self) -> bool:
        with self.mutex:
            return 0 < self.maxsize <= len(self.queue)

    def __repr__(self) -> str:
        return f"<testbed.sched.Queue {self.name!r} {len(self.queue)} items>"
