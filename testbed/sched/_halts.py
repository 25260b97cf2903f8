"""Halts: how a scheduler stops a run from inside one of its threads.

A deadlock (no runnable thread), a livelock (the step limit) and a replay
that no longer follows its tape are not exceptions of the model: they are
the scheduler saying "this run cannot go on".  They derive from
:class:`Halt`, a ``BaseException`` (as trio's ``Cancelled`` is), so model
code that catches ``Exception`` to report a crash, or an idle loop that
catches :class:`~testbed.sched.WaitTimeout` to wait again, can never
swallow one.  Only a thread's top level handles a halt, by handing it to
the run (``Isolate.report_thread_failure``).

``liveness`` says how the run reports it: as a ``safepoint-liveness``
violation with every thread's stack (deadlock, livelock), or as a reason
the run itself is invalid (a diverged replay), which is raised to the
caller instead of being reported as a finding.
"""

from __future__ import annotations

from collections.abc import Sequence

from testbed.sched._stacks import thread_stacks

__all__ = ["Cancelled", "Deadlock", "Halt", "ReplayDiverged", "StepLimit"]


class Halt(BaseException):
    """The scheduler stops the run; only a thread's top level may catch it."""

    #: reported as a ``safepoint-liveness`` violation (else: the run is invalid)
    liveness = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        #: every thread's stack when the halt was raised (liveness halts only)
        self.stacks: dict[str, list[str]] = thread_stacks() if self.liveness else {}

    def __str__(self) -> str:
        return self.message


class Deadlock(Halt):
    """No thread can run while some are blocked."""

    liveness = True

    def __init__(self, description: str) -> None:
        super().__init__(f"deadlock: {description}")
        self.description = description


class StepLimit(Halt):
    """The run passed its step limit (a livelock, or a run far too long)."""

    liveness = True

    def __init__(self, limit: int) -> None:
        super().__init__(f"livelock: no end after {limit} scheduling points")
        self.limit = limit


class Cancelled(Halt):
    """Another thread's failure ended the schedule: this thread stops at its next point.

    Raised by :meth:`ControlledScheduler.cancel` (an explored schedule that
    already failed: running its other threads to their ends would only cost
    time, 100 threads' worth in a large program).  Not a finding.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"cancelled: {reason}")


class ReplayDiverged(Halt):
    """A checked replay found something else than its tape recorded.

    ``entry`` is the index of the tape entry (the decision) that did not
    match, ``step`` the scheduling step it was due at in this run.
    ``expected`` and ``found`` are ``(runnable threads, chosen thread)``
    pairs, the thread by registration index; ``expected`` is None when the
    run asks for a decision past the tape's end, ``found`` when the run
    ended before using the whole tape.  ``threads`` names the registration
    indices for the message (the index is shown where no name is known).
    """

    liveness = False

    def __init__(
        self,
        step: int,
        entry: int,
        expected: tuple[int, int] | None,
        found: tuple[int, int] | None,
        length: int,
        threads: Sequence[str] = (),
    ) -> None:
        self.step = step
        self.entry = entry
        self.expected = expected
        self.found = found
        #: the number of decisions on the tape
        self.length = length
        self.threads = tuple(threads)
        super().__init__(self._describe())

    def named(self, threads: Sequence[str]) -> ReplayDiverged:
        """The same divergence, its threads named (``threads[i]`` is registration index ``i``)."""
        return ReplayDiverged(self.step, self.entry, self.expected, self.found, self.length, threads)

    def _thread(self, index: int) -> str:
        return self.threads[index] if 0 <= index < len(self.threads) else f"#{index}"

    def _choice(self, pair: tuple[int, int]) -> str:
        return f"{pair[0]} runnable / thread {self._thread(pair[1])}"

    def _describe(self) -> str:
        expected = f"the tape's end ({self.length} decisions)" if self.expected is None else self._choice(self.expected)
        found = "the run's end" if self.found is None else self._choice(self.found)
        return f"diverged at step {self.step}: expected {expected}, found {found} (tape entry {self.entry})"
