"""Minimizing a decision tape to a fixed point: 1-minimal, deterministic, bounded.

A decision tape (see :mod:`testbed.sched._trace`) is read relative to the
current thread, 0 meaning "keep running", and past its end every decision is
0: so zeroing a decision or cutting the tape only ever removes switches.
:func:`minimize_tape` searches for a calmer tape on which a caller's run
still fails *the same way* (the caller decides what that means: the model
compares bucket signatures, a user's ``explore()`` may compare assertion
messages).  It knows nothing of the model: it edits lists of ints and asks
``attempt``, which runs a candidate and returns the run's own tape when it
still fails the same way (None otherwise).  The run's own tape, not the
candidate, is kept: an edited candidate may leave decisions the run never
asked for, and the run's tape is what a checked replay follows.

One pass is the heuristic of Zeller's ddmin, as the shrinkers of
Hypothesis, Shuttle and QuickCheck do it: first the shortest failing prefix
(bisection; failure is not monotone in the prefix, so this only guesses),
then zeroing chunks of the remaining nonzero decisions, halving the chunk
down to single decisions.  A single pass can stop early of a minimum: a
later success changes the tape, and a decision that could not go before
may go now (the first ``--shrink`` of a trace that went 7 -> 4 preemptions
when shrunk a second time).  So passes repeat until one changes nothing:
the last pass tried zeroing every single nonzero decision of the result
and every one lost the failure, which is 1-minimality, and since the
search is a function of the tape and the (deterministic) runs, minimizing
the result again replays that last pass and changes nothing.  ``budget``
bounds the runs; a result cut by it says so (``fixed_point`` False).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

__all__ = ["Minimized", "minimize_tape", "trim_tape"]


def trim_tape(tape: Sequence[int]) -> list[int]:
    """The tape without trailing zeros (past its end every decision reads as 0)."""
    end = len(tape)
    while end and tape[end - 1] == 0:
        end -= 1
    return list(tape[:end])


@dataclasses.dataclass
class Minimized:
    #: the calmest failing tape found (trim_tape)
    tape: list[int]
    #: runs used (calls of ``attempt``)
    runs: int
    #: whole passes made (the last one changed nothing when ``fixed_point``)
    passes: int
    #: whether a pass changed nothing: every single nonzero decision left was tried and is needed
    fixed_point: bool


class _Search:
    """One minimization: the current tape, the runs left, and the caller's ``attempt``."""

    def __init__(self, tape: Sequence[int], attempt: Callable[[list[int]], list[int] | None], budget: int) -> None:
        self.tape = trim_tape(tape)
        self.attempt = attempt
        self.budget = budget
        self.runs = 0

    @property
    def spent(self) -> bool:
        return self.runs >= self.budget

    def accepts(self, candidate: list[int]) -> bool:
        """Run ``candidate``; keep the run's own tape when it still fails the same way."""
        self.runs += 1
        found = self.attempt(candidate)
        if found is None:
            return False
        self.tape = trim_tape(found)
        return True

    def prefix(self) -> None:
        """The shortest failing prefix, by bisection (a guess: failure is not monotone in the prefix)."""
        low, high = 0, len(self.tape)
        while low < high and not self.spent:
            middle = (low + high) // 2
            if self.accepts(self.tape[:middle]):
                high = min(middle, len(self.tape))
            else:
                low = middle + 1

    def zero_chunks(self) -> bool:
        """ddmin over the nonzero decisions: zero chunks of them, halving the chunk down to 1.

        True when it got to the end: every single nonzero decision left was tried since the last success.
        """
        chunk = max(1, self._nonzero() // 2)
        start = 0
        while not self.spent:
            positions = [i for i, d in enumerate(self.tape) if d]
            if start >= len(positions):
                if chunk == 1:
                    return True
                chunk, start = max(1, chunk // 2), 0
                continue
            candidate = list(self.tape)
            for i in positions[start : start + chunk]:
                candidate[i] = 0
            if not self.accepts(candidate):
                start += chunk
            # On success the chunk's decisions are gone: the next chunk starts where this one did.
        return False

    def _nonzero(self) -> int:
        return sum(1 for d in self.tape if d)


def minimize_tape(
    tape: Sequence[int],
    attempt: Callable[[list[int]], list[int] | None],
    budget: int,
    on_pass: Callable[[int, list[int]], None] | None = None,
) -> Minimized:
    """The calmest tape found from ``tape`` on which ``attempt`` still fails (see the module docstring).

    ``attempt(candidate)`` runs ``candidate`` (decisions, 0 past its end)
    and returns the run's own decisions when it failed the same way, else
    None; ``tape`` itself is taken to fail so.  ``on_pass(runs, tape)`` is
    told after each pass.
    """
    search = _Search(tape, attempt, budget)
    passes = 0
    while not search.spent:
        before = list(search.tape)
        passes += 1
        search.prefix()
        complete = search.zero_chunks()
        if on_pass is not None:
            on_pass(search.runs, list(search.tape))
        if complete and search.tape == before:
            return Minimized(search.tape, search.runs, passes, True)
    return Minimized(search.tape, search.runs, passes, False)
