"""The sweeper-paused-during-scavenge check: the sweeper does no work while a scavenge runs.

V8's scavenger pauses the concurrent sweeper for the whole scavenge
(``Sweeper::PauseScope`` in ``ScavengerCollector::CollectGarbage``) and
relies on it: "Sweeper is stopped during scavenge, so we can directly
insert into its remembered set here" (src/heap/scavenger.cc).

The check reads what the sweeping thread wrote down about itself, what it
is working on (``current``: a page, or the weak list it retires first) and
every item it began (``history``), never the pause request the scavenge
makes: at the pause start the sweeper must be between items, and by the
end of the scavenge it must not have begun one since.  A run without a
full collector (or without its sweeper) has nothing to check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from testbed.check.findings import Findings

if TYPE_CHECKING:
    from testbed.runtime import Isolate

__all__ = ["SweeperChecks"]

INVARIANT = "sweeper-paused-during-scavenge"


class SweeperChecks:
    """Remembers how many items the sweeper had begun when the pause started."""

    def __init__(self) -> None:
        self._begun: int | None = None

    @staticmethod
    def _record(isolate: Isolate) -> Any:
        return getattr(isolate.full_collector, "sweeper", None)

    def at_pause_start(self, isolate: Isolate, found: Findings) -> None:
        record = self._record(isolate)
        self._begun = None
        if record is None:
            return
        found.evaluate(INVARIANT)
        begun = len(record.history)
        current = record.current
        if current is not None:
            scavenge = isolate.stats.scavenges + 1
            found.add(INVARIANT, f"the sweeper is working on {current} as scavenge {scavenge} starts")
        self._begun = begun

    def after_scavenge(self, isolate: Isolate, found: Findings) -> None:
        record = self._record(isolate)
        if record is None or self._begun is None:
            return
        found.evaluate(INVARIANT)
        began = list(record.history)[self._begun :]
        current = record.current
        scavenge = isolate.stats.scavenges
        if began:
            found.add(INVARIANT, f"the sweeper began {', '.join(began)} during scavenge {scavenge}")
        elif current is not None:
            found.add(INVARIANT, f"the sweeper is working on {current} as scavenge {scavenge} ends")
        self._begun = None
