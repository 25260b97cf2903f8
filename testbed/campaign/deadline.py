"""A schedule bounded by the campaign's deadline: run on a thread, watched, cut when the time is up.

``stress --duration`` bounds the campaign, not only the start of its last
schedule.  :func:`bounded_run` runs one schedule on a daemon thread (named
``MainThread``, as the thread that drives a run is everywhere, so a
violation's ``thread`` and its bucket are the same as without a deadline)
and samples the run's scheduling points every :data:`TICK` seconds,
calling ``tick()`` between samples (the campaign's monitor: progress
lines keep coming during a long schedule).  When the deadline passes with
the schedule still running, it is cut:

* it is asked to stop: its next scheduling point raises a
  :class:`~testbed.sched.Halt` (as the step limit stops a run), and its
  threads unwind.  A run that ends this way was **progressing** (slow, not
  stuck): no violation, a :class:`Cut` the campaign lists as cut at the
  deadline;
* it is **stuck** once no thread has passed a scheduling point for its
  liveness timeout (``Config.wait_timeout``, the quiet time after which a
  safepoint wait reports ``safepoint-liveness``): a ``safepoint-liveness``
  finding with every thread's stack.  So a stuck schedule is reported at
  most one liveness timeout after the deadline, and a hang is never taken
  for "still progressing".

Python cannot stop a thread that passes no point: a stuck schedule's
threads are daemons and go on in the background, in a worker process
until the campaign ends that process.  In this one the run is given up
(:meth:`~testbed.sched.Scheduler.orphan`): each of its threads is halted
at its next point, so one that was only slow ends, and the next run here
waits for that up to the liveness timeout, then refuses with a
:class:`~testbed.sched.RunActive` naming the stuck schedule (a thread
that passes no point at all keeps the process's one run slot until the
run's own timeout, ``Config.run_timeout``, or the process's exit).  A schedule whose start comes after the deadline (one queued in
a worker process) is not started at all (``None``).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from testbed.execute import RunResult
from testbed.runtime import Config
from testbed.sched import HaltSwitch, Violation, active_scheduler, thread_stacks

__all__ = ["TICK", "Cut", "bounded_run"]

#: seconds between looks at a run past the deadline that has no threads to halt yet
SETTLE = 0.01
#: seconds between two samples of a running schedule's progress (and two ``tick()`` calls)
TICK = 0.25


@dataclasses.dataclass
class Cut:
    """A schedule still running at the campaign's deadline, and what it was doing then."""

    config: Config
    #: seconds it had run
    ran_s: float
    #: scheduling points it had passed
    points: int
    #: seconds since the last scheduling point by any thread
    quiet_s: float
    #: the ``safepoint-liveness`` violation when it was stuck; None when it was still progressing
    violation: Violation | None = None

    def as_result(self) -> RunResult:
        """A stuck schedule as the finding of a run (no trace: the run never ended)."""
        assert self.violation is not None
        return RunResult(self.config, [self.violation], {"points": self.points, "wall_s": round(self.ran_s, 3)})

    def to_json(self, reproduce: str) -> dict[str, Any]:
        """How the result JSON lists a schedule cut while progressing."""
        return {
            "scenario": self.config.scenario,
            "seed": self.config.seed,
            "strategy": self.config.strategy,
            "ran_s": round(self.ran_s, 1),
            "points": self.points,
            "reproduce": reproduce,
        }


class _Progress:
    """When the running schedule last passed a scheduling point (sampled, not hooked: no cost to the run)."""

    def __init__(self) -> None:
        self.started = self.moved = time.monotonic()
        self.points = -1

    def sample(self) -> bool:
        """Whether a scheduling point was passed since the last sample."""
        points = active_scheduler().steps  # the run's scheduler while it runs (one run per process)
        if points == self.points:
            return False
        self.points = points
        self.moved = time.monotonic()
        return True

    @property
    def quiet(self) -> float:
        return time.monotonic() - self.moved


def _body(runner: Callable[[Config], RunResult], config: Config, box: dict[str, Any]) -> None:
    try:
        box["result"] = runner(config)
    except BaseException as error:  # re-raised on the campaign's thread
        box["error"] = error


def _cut(config: Config, progress: _Progress, stuck: bool) -> Cut:
    ran = time.monotonic() - progress.started
    cut = Cut(config, ran, max(progress.points, 0), progress.quiet)
    if stuck:
        message = (
            f"still running after the campaign's deadline ({ran:.1f}s in), and no thread passed a scheduling "
            f"point for {progress.quiet:.1f}s (the liveness timeout is {config.wait_timeout:g}s): some thread "
            "neither ends nor reaches one"
        )
        cut.violation = Violation("safepoint-liveness", message, cut.points, "MainThread", thread_stacks())
        scheduler = active_scheduler()
        if scheduler.threads:  # the stuck run's: give it up, so the next run here waits for it, then says why
            what = config.scenario or config.program_reference or "program"
            scheduler.orphan(f"the schedule {what} seed {config.seed} was stuck at a campaign's deadline")
    return cut


class _Halt:
    """A cut run that still passes scheduling points is ended at its next one, with a :class:`Halt`.

    A halt is how a scheduler stops a run from inside its threads (the step
    limit does the same, once): a non-liveness one makes the run invalid,
    not failed, and the run's own top levels unwind it, so the process is
    free for another run within a moment.  A thread that passes no point
    cannot be stopped (Python cannot kill a thread): it goes on as a daemon.
    """

    def __init__(self, thread: threading.Thread) -> None:
        self.switch: HaltSwitch | None = None
        scheduler = self.scheduler = active_scheduler()
        if not thread.is_alive() or not scheduler.threads:  # the idle scheduler is never touched
            return
        self.switch = scheduler.halt_at_next_point("the schedule was cut at the campaign's deadline")

    @property
    def installed(self) -> bool:
        """Whether it is in place (not while the idle scheduler is active: before the run's threads exist)."""
        return self.switch is not None

    @property
    def raised(self) -> bool:
        """Whether the halt was raised (the run's end, if it ends, is the halt's doing)."""
        return self.switch is not None and self.switch.raised


def _wait(deadline: float | None, halt: _Halt | None) -> float:
    """How long to wait for the run before the next look: a tick, up to the deadline itself;
    past it, briefly until the halt is in place (a run that has not spawned its threads yet)."""
    if deadline is None:
        return TICK
    left = deadline - time.monotonic()
    if left > 0:
        return min(TICK, left)
    return TICK if halt is not None and halt.installed and halt.scheduler is active_scheduler() else SETTLE


def bounded_run(
    config: Config,
    deadline: float | None,
    runner: Callable[[Config], RunResult],
    tick: Callable[[], Any] | None = None,
) -> RunResult | Cut | None:
    """``runner(config)``, cut at ``deadline`` (``time.monotonic()``; None: never); see the module docstring."""
    if deadline is None and tick is None:
        return runner(config)  # nothing to watch: on this thread
    if deadline is not None and time.monotonic() >= deadline:
        return None
    box: dict[str, Any] = {}
    thread = threading.Thread(target=_body, args=(runner, config, box), name="MainThread", daemon=True)
    progress = _Progress()
    halt: _Halt | None = None
    cut: Cut | None = None
    thread.start()
    while thread.is_alive():
        thread.join(_wait(deadline, halt))
        if not thread.is_alive():
            break
        progress.sample()
        if tick is not None:
            tick()
        if deadline is None or time.monotonic() < deadline:
            continue
        if progress.quiet >= config.wait_timeout:
            return _cut(config, progress, stuck=True)
        if cut is None:  # past the deadline: what it was doing then, and stop it
            cut = _cut(config, progress, stuck=False)
        if halt is None or not (halt.installed and (halt.raised or halt.scheduler is active_scheduler())):
            halt = _Halt(thread)  # first, or again: the run had no threads yet, or a probe run ended meanwhile
    if halt is not None and halt.raised:
        return cut  # whatever the halted run returned or raised is the halt's doing, not a finding
    if "error" in box:
        raise box["error"]
    return box["result"]
