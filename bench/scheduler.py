"""Speed of controlled mode against the raw cost of a thread handoff.

    PYTHONPATH=. python bench/scheduler.py

Measures, in one run (docs/design.md, 'Scheduling', "Speed of controlled mode"):

1. raw handoffs/s: two ``threading.Thread``s ping-pong a token through two
   ``_thread.allocate_lock()`` locks (each blocks on its own lock and
   releases the other's), once unpinned and once with the process pinned
   to one CPU the way :class:`ControlledScheduler` pins it (the affinity
   mask of the starting thread, inherited by the threads it creates, and
   restored afterwards);
2. controlled switching decisions/s: a :class:`ControlledScheduler` whose
   strategy switches at every point, two spawned threads each passing
   ``point("bench")`` N times;
3. the cost of a point that does not switch (a strategy that always
   answers 0 with two runnable threads, and a run with one registered
   thread), against a no-op Python function with the same signature.
   Costs are per call with the bare ``for`` loop's own cost subtracted.

Every figure is the best of several repetitions (highest rate, lowest
cost): ``REPEATS`` for the rates, each sized to last about ``TARGET_S``
seconds, with raw and controlled repetitions interleaved so that they see
the same load (the table also shows the median rate and the median of the
back-to-back ratios); ``NONSWITCH_REPEATS`` short interleaved blocks for
the per-call costs.  The
last line is machine-readable::

    controlled_vs_raw_handoff_ratio=<float> nonswitch_point_vs_noop_call=<float>

(controlled switching decisions/s over pinned raw handoffs/s; non-switching
point ns over no-op call ns, the headline being the two-thread case.)
"""

from __future__ import annotations

import _thread
import contextlib
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from testbed.sched import NEVER, ControlledScheduler, Strategy, point, running

REPEATS = 7
TARGET_S = 0.3
JOIN_TIMEOUT_S = 30.0
#: a controlled run normally stops at 2M points; the benchmark passes more
MAX_STEPS = 10**9
#: The per-call costs time many short blocks (about a millisecond at most),
#: the bare loop, the no-op call and the point interleaved block by block, so
#: that every kind gets the same chances to run while the machine is quiet:
#: NONSWITCH_REPEATS rounds of NONSWITCH_POINTS iterations of each kind.
NONSWITCH_POINTS = 1_000
NONSWITCH_REPEATS = 400

perf_counter = time.perf_counter


# -- strategies ----------------------------------------------------------------


class AlwaysSwitch(Strategy):
    """Switch to the next runnable thread at every point."""

    name = "always-switch"

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        return 1 if current_runnable else 0


class NeverSwitch(Strategy):
    """Keep the current thread running at every point (decision 0), and say so ahead (``quiet``).

    The cost measured is that of a point below the scheduler's horizon, which
    is what most points of a random, pct or replay run are.
    """

    name = "never-switch"

    def decide(self, step: int, runnable: Sequence[int], current: int, current_runnable: bool) -> int:
        return 0

    def quiet(self, step: int, runnable: Sequence[int], current: int) -> int:
        return NEVER


# -- helpers -------------------------------------------------------------------


@contextlib.contextmanager
def pinned() -> Iterator[None]:
    """Pin to one CPU exactly as ControlledScheduler.start does; restore on exit."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def join_all(threads: Sequence[threading.Thread]) -> None:
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError(f"benchmark thread {thread.name} did not end within {JOIN_TIMEOUT_S} s")


def work_size(measure: Callable[[int], float], n0: int) -> int:
    """The n for which ``measure(n)`` (seconds) lasts about TARGET_S."""
    elapsed = measure(n0)
    return max(n0, int(n0 * TARGET_S / max(elapsed, 1e-6)))


# -- 1. raw handoffs -----------------------------------------------------------


def raw_pingpong(rounds: int) -> float:
    """Seconds for ``rounds`` round trips (2 handoffs each), timed inside the pinger."""
    mine = _thread.allocate_lock()
    theirs = _thread.allocate_lock()
    mine.acquire()
    theirs.acquire()
    timing: list[float] = []

    def ping() -> None:
        release, acquire = theirs.release, mine.acquire
        started = perf_counter()
        for _ in range(rounds):
            release()
            acquire()
        timing.append(perf_counter() - started)

    def pong() -> None:
        release, acquire = mine.release, theirs.acquire
        for _ in range(rounds):
            acquire()
            release()

    threads = [threading.Thread(target=pong, name="pong"), threading.Thread(target=ping, name="ping")]
    for thread in threads:
        thread.start()
    join_all(threads)
    return timing[0]


def raw_rate(rounds: int, pin: bool) -> float:
    """Raw handoffs per second, optionally pinned to one CPU for the measurement."""
    with pinned() if pin else contextlib.nullcontext():
        return 2 * rounds / raw_pingpong(rounds)


# -- 2. controlled switching ---------------------------------------------------


def controlled_switching(n: int) -> tuple[float, int]:
    """(seconds, switches) for two threads passing ``n`` always-switching points each."""
    scheduler = ControlledScheduler(AlwaysSwitch(), max_steps=MAX_STEPS)
    marks: list[float] = []

    def body() -> None:
        if not marks:
            marks.append(perf_counter())  # the first thread to get the turn starts the clock
        for _ in range(n):
            point("bench")
        marks.append(perf_counter())  # the last one to end stops it

    with running(scheduler):
        threads = [scheduler.spawn("a", body), scheduler.spawn("b", body)]
        scheduler.launch()
        join_all(threads)
    if scheduler.preemptions < 2 * n - 1:
        raise RuntimeError(f"expected a switch at every point, got {scheduler.preemptions} for {2 * n} points")
    return marks[-1] - marks[0], scheduler.preemptions


def controlled_rate(n: int) -> float:
    """Controlled switching decisions per second."""
    seconds, switches = controlled_switching(n)
    return switches / seconds


# -- 3. points that do not switch ----------------------------------------------


def noop(kind: str, detail: object = None) -> None:
    """What a point would cost if it did nothing: a plain call with point's signature."""


def loop_costs(n: int) -> dict[str, float]:
    """Best per-iteration ns of a bare loop, a no-op call loop and a point loop (same thread)."""
    r = range(n)
    best = {"loop": float("inf"), "noop": float("inf"), "point": float("inf")}
    for _ in range(NONSWITCH_REPEATS):
        started = perf_counter()
        for _ in r:
            pass
        best["loop"] = min(best["loop"], perf_counter() - started)
        started = perf_counter()
        for _ in r:
            noop("bench")
        best["noop"] = min(best["noop"], perf_counter() - started)
        started = perf_counter()
        for _ in r:
            point("bench")
        best["point"] = min(best["point"], perf_counter() - started)
    return {k: v / n * 1e9 for k, v in best.items()}


def nonswitch_costs(threads: int, n: int) -> tuple[dict[str, float], int]:
    """Loop costs measured by the first of ``threads`` controlled threads; also its decisions."""
    scheduler = ControlledScheduler(NeverSwitch(), max_steps=MAX_STEPS)
    result: list[dict[str, float]] = []

    def measurer() -> None:
        result.append(loop_costs(n))

    def idler() -> None:
        pass

    with running(scheduler):
        spawned = [scheduler.spawn("measurer", measurer)]
        spawned += [scheduler.spawn(f"idle{i}", idler) for i in range(1, threads)]
        scheduler.launch()
        join_all(spawned)
    if scheduler.preemptions:
        raise RuntimeError("a never-switching run switched")
    return result[0], len(scheduler.tape)


def net(costs: dict[str, float], key: str) -> float:
    return costs[key] - costs["loop"]


# -- report --------------------------------------------------------------------


def main() -> None:
    started = perf_counter()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    print(f"python {platform.python_version()} on {platform.machine()}, usable CPUs {cpus or os.cpu_count()}")
    print(f"best of {REPEATS} repetitions of ~{TARGET_S} s each; switch interval {sys.getswitchinterval()} s")
    print()

    # Size each measurement, then interleave the repetitions so that the raw
    # and the controlled rates see the same machine conditions.
    raw_free_n = work_size(lambda n: 2 * n / raw_rate(n, pin=False), 2_000)
    raw_pinned_n = work_size(lambda n: 2 * n / raw_rate(n, pin=True), 2_000)
    controlled_n = work_size(lambda n: controlled_switching(n)[0], 1_000)
    raw_free_all: list[float] = []
    raw_pinned_all: list[float] = []
    controlled_all: list[float] = []
    for _ in range(REPEATS):
        raw_free_all.append(raw_rate(raw_free_n, pin=False))
        raw_pinned_all.append(raw_rate(raw_pinned_n, pin=True))
        controlled_all.append(controlled_rate(controlled_n))
    raw_pinned, controlled = max(raw_pinned_all), max(controlled_all)
    paired = statistics.median(c / r for c, r in zip(controlled_all, raw_pinned_all, strict=True))
    two, decisions = nonswitch_costs(2, NONSWITCH_POINTS)
    one, _ = nonswitch_costs(1, NONSWITCH_POINTS)

    ratio = controlled / raw_pinned
    print(f"{'handoffs':52} {'best /s':>12} {'ns each':>10} {'vs pinned raw':>14} {'median /s':>12}")
    for label, rates in (
        ("raw lock ping-pong, unpinned", raw_free_all),
        ("raw lock ping-pong, pinned to one CPU", raw_pinned_all),
        ("controlled, a switch at every point (pinned)", controlled_all),
    ):
        rate = max(rates)
        print(
            f"{label:52} {rate:12,.0f} {1e9 / rate:10,.0f} {rate / raw_pinned:14.3f} {statistics.median(rates):12,.0f}"
        )
    print(f"median over repetitions of (controlled / pinned raw, measured back to back): {paired:.3f}")
    print()
    print(f"{'per call, bare for-loop cost subtracted':52} {'ns gross':>12} {'ns net':>10} {'vs no-op call':>14}")
    rows = [
        ("bare for-loop iteration", two, "loop"),
        ("no-op Python call noop('bench')", two, "noop"),
        (f"point(), no switch, 2 runnable ({decisions:,} decisions)", two, "point"),
        ("point(), no switch, 1 registered thread", one, "point"),
    ]
    for label, costs, key in rows:
        versus = f"{net(costs, key) / net(costs, 'noop'):14.2f}" if key != "loop" else ""
        print(f"{label:52} {costs[key]:12.1f} {net(costs, key):10.1f} {versus}")
    print()
    print(f"total {perf_counter() - started:.1f} s")
    nonswitch = net(two, "point") / net(two, "noop")
    print(f"controlled_vs_raw_handoff_ratio={ratio:.4f} nonswitch_point_vs_noop_call={nonswitch:.4f}")


if __name__ == "__main__":
    main()
