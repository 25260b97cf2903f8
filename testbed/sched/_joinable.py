"""What :class:`~testbed.sched.Thread` and :class:`~testbed.sched.Timer` share: a thread of one's own, joined.

Both drop-ins start one OS thread (spawned through the scheduler when the
starter is steered), mark its end in their own parking lot, and ``join``
waits on that lot, so a steered thread joining a steered one hands the
turn over instead of blocking the OS thread the other needs (as
``threading.Thread.join`` would).  The join is one scheduling point
(``thread-join`` or ``timer-join``), then a park whose ``timeout`` is
patience, as for every wait here: a join nobody can end is a deadlock
under control.  What differs (how the thread starts, what it runs, the
wording of the errors) stays in each class.
"""

from __future__ import annotations

from _thread import get_ident

from testbed.sched import _points
from testbed.sched._parking import ParkingLot
from testbed.sched._points import point
from testbed.sched._primitives import _patience

__all__ = ["Joinable"]


class Joinable:
    """A started-once thread whose end is marked in a parking lot that ``join`` waits on."""

    def __init__(self, lot: str) -> None:
        #: ``join`` waits here for ``_ended``
        self._lot = ParkingLot(lot)
        self._started = False
        self._ended = False
        self._ident: int | None = None

    def _ending(self) -> None:
        """The thread's last act (in a ``finally``): mark the end and wake the joiners."""
        lot = self._lot
        with lot.guard:
            self._ended = True
            if lot.waiters:
                _points._active.unpark(lot)

    def _join(self, noun: str, name: str, timeout: float | None, unstarted: str, itself: str) -> None:
        """``join`` of the ``noun`` (thread, timer) ``name``; ``unstarted``/``itself``: the errors' messages."""
        if not self._started:
            raise RuntimeError(unstarted)
        if self._ident == get_ident():
            raise RuntimeError(itself)
        point(f"{noun}-join", name)
        lot = self._lot
        with lot.guard:
            if self._ended:
                return
        _points._active.park(lot, lambda: self._ended, f"{noun} {name!r} to end", _patience(timeout))

    def is_alive(self) -> bool:
        """Started and not yet ended."""
        return self._started and not self._ended

    @property
    def ident(self) -> int | None:
        """The thread's identifier once it runs (None before)."""
        return self._ident
