"""What one check found, and how often each invariant was evaluated.

A check that never ran is not a pass (the Antithesis "sometimes"
assertion): every evaluation of an invariant is counted in an
:class:`Evaluations` tally, which the run reports as
``stats.checks_by_invariant`` and ``testbed stress`` warns about when an
invariant stayed at zero for a whole campaign.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from testbed.check.invariants import invariant_names
from testbed.sched import Tally, Violation, active_scheduler

__all__ = ["Evaluations", "Findings"]

#: messages kept per invariant per check; the rest are counted
_EXAMPLES = 3


class Evaluations:
    """Evaluations per invariant name; every catalogued name is present from the start.

    Mutators and scavenger tasks evaluate at once (a free-threaded build
    runs them in parallel), so each thread counts in its own shard and
    :meth:`totals` sums them: a shared ``counts[name] += 1`` would lose
    evaluations, and a check that never ran must not pass for one that did.
    """

    def __init__(self) -> None:
        self._tally = Tally(invariant_names())

    def count(self, invariant: str, n: int = 1) -> None:
        """``n`` more evaluations of ``invariant`` (by the calling thread)."""
        self._tally.add(invariant, n)

    def __getitem__(self, invariant: str) -> int:
        return self._tally[invariant]

    def totals(self) -> dict[str, int]:
        """Every invariant's evaluations, in the catalogue's order."""
        return self._tally.totals()


class Findings:
    """Violations of one check, a few examples per invariant, and the evaluations made."""

    def __init__(self, evaluations: Evaluations) -> None:
        self.evaluations = evaluations
        self.examples: dict[str, list[str]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)

    def evaluate(self, *invariants: str) -> None:
        """Count one evaluation of each invariant named."""
        for invariant in invariants:
            self.evaluations.count(invariant)

    def add(self, invariant: str, message: str) -> None:
        self.counts[invariant] += 1
        if len(self.examples[invariant]) < _EXAMPLES:
            self.examples[invariant].append(message)

    def violations(self, when: str) -> list[Violation]:
        step = active_scheduler().steps
        thread = threading.current_thread().name
        found = []
        for invariant, examples in self.examples.items():
            more = self.counts[invariant] - len(examples)
            text = "; ".join(examples) + (f"; and {more} more" if more else "")
            found.append(Violation(invariant, f"{when}: {text}", step=step, thread=thread))
        return found
