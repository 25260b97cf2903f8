"""The sweeper-paused-during-scavenge check: the sweeper does no work while a scavenge runs.

V8's scavenger pauses the concurrent sweeper for the whole scavenge
(``Sweeper::PauseScope`` in ``ScavengerCollector::CollectGarbage``) and
relies on it: "Sweeper is stopped during scavenge, so we can directly
insert into its remembered set here" (src/heap/scavenger.cc).

The check keeps its own record of what the sweeping thread does, built from
the observer hooks that thread fires as it begins and ends each item (a
page, or the weak list it retires first), never from the pause request the
scavenge makes or any field of the sweeper: at the pause start the sweeper
must be between items, and by the end of the scavenge it must not have
begun one since.  A run without a full collector has nothing to check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from testbed.check.findings import Findings

if TYPE_CHECKING:
    from testbed.runtime import Isolate

__all__ = ["SweeperChecks"]

INVARIANT = "sweeper-paused-during-scavenge"


class SweeperChecks:
    """What the sweeping thread was seen doing, and since when."""

    def __init__(self) -> None:
        #: the items the sweeping threads are on (started, not yet ended), oldest first
        self._current: list[str] = []
        #: every item they began, in order
        self._began: list[str] = []
        #: how many items it had begun when this pause started (None: no pause being checked)
        self._begun_at_pause: int | None = None

    # -- the sweeping thread's hooks (on that thread) --------------------------

    def started(self, item: str) -> None:
        self._current.append(item)
        self._began.append(item)

    def ended(self, item: str) -> None:
        if item in self._current:
            self._current.remove(item)

    # -- the pause (on the initiator) ------------------------------------------

    def at_pause_start(self, isolate: Isolate, found: Findings) -> None:
        self._begun_at_pause = None
        if isolate.full_collector is None:
            return  # no mark-compact, so nothing is ever swept
        found.evaluate(INVARIANT)
        begun = len(self._began)
        current = self._current[0] if self._current else None
        if current is not None:
            scavenge = isolate.stats.scavenges + 1
            found.add(INVARIANT, f"the sweeper is working on {current} as scavenge {scavenge} starts")
        self._begun_at_pause = begun

    def after_scavenge(self, isolate: Isolate, found: Findings) -> None:
        if self._begun_at_pause is None:
            return
        found.evaluate(INVARIANT)
        began = self._began[self._begun_at_pause :]
        current = self._current[0] if self._current else None
        scavenge = isolate.stats.scavenges
        if began:
            found.add(INVARIANT, f"the sweeper began {', '.join(began)} during scavenge {scavenge}")
        elif current is not None:
            found.add(INVARIANT, f"the sweeper is working on {current} as scavenge {scavenge} ends")
        self._begun_at_pause = None
