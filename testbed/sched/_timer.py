"""A timer on the scheduling layer: a drop-in for :class:`threading.Timer`.

``Timer(interval, function, args=None, kwargs=None)`` runs ``function`` in a
thread of its own after ``interval`` seconds, unless ``cancel()`` came
first.  Built as the standard library builds it: the thread waits on an
:class:`~testbed.sched.Event` (``finished``) for the interval, fires if the
event is still clear, and ``cancel()`` sets the event.

What the interval means depends on who starts the timer:

* **A thread a controlled scheduler steers** (an :func:`~testbed.sched.explore`
  thread, a model thread): the timer's thread is spawned through the
  scheduler and steered like its starter, and the interval is *not* wall
  time.  The timer is runnable from ``start()`` on and fires when the
  schedule first gives it the turn past its one scheduling point (an
  ``event-wait`` on ``finished``), so "the interval elapsed" happens at
  whatever point of the other threads the strategy chooses, as it may on a
  loaded machine.  Whether a ``cancel()`` wins is therefore a property of
  the schedule: deterministic for a seed, reproduced by a replay, and both
  outcomes are explored.  The interval's value plays no part (two timers
  may fire in either order).
* **Any other thread** (free mode, no run, the main thread of a
  controlled run): a plain daemon thread that sleeps on ``finished``'s
  parking lot until the interval has passed by the clock (or a cancel
  wakes it), then fires.  This one wait ends by the clock and not by a
  wake-up, so it sleeps for exactly the time left instead of in the
  patience slices of the other free-mode waits.

``join(timeout=None)`` waits for the timer's thread to end (after its
function returned, or at once after a cancel) through the timer's own
parking lot, so a steered thread joining a steered timer hands the turn
over instead of blocking the OS thread the timer needs; its ``timeout`` is
patience, as for every wait here.  An exception from ``function`` goes to
:func:`threading.excepthook`, as from a ``threading.Timer``.
"""

from __future__ import annotations

import math
import threading
import time
from _thread import get_ident
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from testbed.sched import _points
from testbed.sched._joinable import Joinable
from testbed.sched._points import point
from testbed.sched._primitives import Event, auto_name

__all__ = ["Timer"]


class Timer(Joinable):
    """Run ``function(*args, **kwargs)`` after ``interval`` seconds in a thread of its own, unless cancelled."""

    def __init__(
        self,
        interval: float,
        function: Callable[..., object],
        args: Iterable[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise TypeError(f"timer interval must be a number of seconds, got {interval!r}")
        if not math.isfinite(interval):
            raise ValueError(f"timer interval must be finite, got {interval!r}")
        if not callable(function):
            raise TypeError(f"timer function must be callable, got {function!r}")
        self.name = auto_name("timer") if name is None else name
        self.interval = interval
        self.function = function
        self.args = list(args) if args is not None else []
        self.kwargs = dict(kwargs) if kwargs is not None else {}
        #: set by ``cancel()``, and after ``function`` returned
        self.finished = Event(f"{self.name}.finished")
        super().__init__(self.name)

    def start(self) -> None:
        """Start the timer's thread: steered when the caller is, else a plain daemon thread."""
        if self._started:
            raise RuntimeError(f"timer {self.name!r} can only be started once")
        self._started = True
        scheduler = _points._active
        if scheduler.current_task() is not None:
            # Spawned by the thread holding the turn: registered at a point of the
            # schedule, so its index on the tape is the same in every run.
            scheduler.spawn(self.name, self.run)
        else:
            threading.Thread(target=self.run, name=self.name, daemon=True).start()

    def run(self) -> None:
        """The timer's thread: wait for the interval (or a cancel), fire unless cancelled."""
        self._ident = get_ident()
        finished = self.finished
        try:
            if _points._active.current_task() is not None:
                # The interval elapses here, when the schedule says (see the module docstring).
                point("event-wait", finished.name)
            else:
                self._sleep()
            if not finished.is_set():
                self.function(*self.args, **self.kwargs)
                finished.set()
        finally:
            self._ending()

    def _sleep(self) -> None:
        """Free mode: sleep on ``finished``'s lot until it is set or the interval has passed."""
        finished = self.finished
        lot = finished._lot
        deadline = time.monotonic() + self.interval
        with lot.guard:
            lot.sleeping += 1
            try:
                while not finished._flag:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    lot.sleepers.wait(left)
            finally:
                lot.sleeping -= 1

    def cancel(self) -> None:
        """Stop the timer if it has not fired yet (it does nothing once ``function`` has begun)."""
        self.finished.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the timer's thread has ended (fired and returned, or seen the cancel)."""
        unstarted = f"cannot join timer {self.name!r} before it is started"
        self._join("timer", self.name, timeout, unstarted, f"timer {self.name!r} cannot join itself")

    def __repr__(self) -> str:
        if not self._started:
            state = "initial"
        elif self._ended:
            state = "stopped"
        else:
            state = "cancelled" if self.finished.is_set() else "started"
        return f"<testbed.sched.Timer {self.name!r} {state}, interval {self.interval:g}s>"
