"""Scavenge pause: copying proportional to the live set, not the dead; and by worker count.

    PYTHONPATH=. python bench/scavenge.py [--live 2000] [--repeat 21] [--no-pin]

A copying collector touches only what survives, so a nursery holding ten
times as many dead objects as live ones should pause about as long as one
holding none.  One mutator allocates ``--live`` objects kept alive by
handles (a chain, so every copy is reached through a field as well), plus
0 or 10x as many objects it drops, then requests a scavenge; the pause is
the time the collector ran (``RunStats.pause_s``).  Then the same live set
with 1, 2 and 4 scavenger workers.

The model zaps from-space after every scavenge (every object left there is
poisoned, so a stale reference reads poison): one pass over from-space, dead
objects included, as V8's ``ZapFromSpace`` is one pass over the semispace
in ``--verify-heap`` builds.  So the whole pause grows with the dead; the
copying part (the pause less ``RunStats.zap_s``) should not.

Under the GIL, worker threads interleave rather than run in parallel, so
more workers cannot shorten the pause; they add handoffs and contention
(the ratios below stay near or above 1 there).  On a free-threaded build
(PEP 703, ``python3.13t``) the workers' copying overlaps, as V8's does on
several cores: ``workers2_vs_workers1_copy_ratio`` is the scavenge's
parallel phase (``RunStats.parallel_s``: from publishing the job to the
last task's end, so copying, promotion and slot updating, without the
flip, the zapping or the verification) with 2 workers over 1 worker;
``workers2_vs_workers1_pause_ratio`` is the whole pause's.  Beside them,
``baseline_2threads_vs_1_ratio`` is what 2 cores give at that moment: a
pure-Python CPU-bound loop split over 2 threads over the same loop on 1
(about 1.0 under the GIL, about 0.5 on an idle 2-core machine without it;
well above 0.6 on a free-threaded build means the machine is busy: rerun).
``burst_2threads_vs_1_ratio`` is the same loop in the shape of the parallel
phase: as long as that repeat's 1-worker phase, run by threads that were
idle while the measuring thread computed (as the scavenger's pool idles
while the mutator allocates), woken together, timed from the wake-up to
the last thread's end.  It prices what a short burst pays on that machine
to wake a second core; the model's ratio is comparable with it, not with
the long loop.

Worker threads are pinned one per core (``os.sched_setaffinity``; the
scavenger's by the mutator before it allocates, the loops' by themselves),
so the numbers say what the model's synchronization allows rather than
where the kernel puts a woken thread: on the 2-core VM this project is
built on, the kernel often ran both scavenger workers, woken together, on
one core for their first 5 to 12 ms (read from ``/proc/thread-self/stat``
at each item claim): medians of about 0.57 pinned against 0.68 unpinned
in the readings the README gives.  ``--no-pin`` lets the kernel place
them; the last line says which (``pinned``).

Last line: ``dead10x_vs_dead0_copy_ratio=<float> dead10x_vs_dead0_pause_ratio=<float>
workers4_vs_workers1_pause_ratio=<float> workers2_vs_workers1_copy_ratio=<float>
workers2_vs_workers1_pause_ratio=<float> baseline_2threads_vs_1_ratio=<float>
burst_2threads_vs_1_ratio=<float> pinned=<0|1> gil=<0|1>``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable

import testbed
from testbed.runtime import Mutator

#: local objects a task holds before publishing to the shared pool: 64, V8's
#: first parallel scavenger's segment (``kCopiedListSegmentSize``, src/heap/scavenger.h;
#: 256 today), for a heap of thousands of objects.  The scenarios' default of 8
#: suits their heaps of a few hundred: here it would send most copies through
#: the pool's lock (``bench/scavenge_profile.py --segment 8`` shows it).
SEGMENT = 64


def pin(thread_id: int, index: int) -> None:
    """Keep thread ``thread_id`` (0: the calling thread) on the ``index``-th core this process may use."""
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(thread_id, {cores[index % len(cores)]})


def can_pin() -> bool:
    """Whether threads can be pinned to cores here (Linux)."""
    return hasattr(os, "sched_setaffinity")


def chain_program(live: int, dead: int = 0, pinned: bool = False) -> Callable[[Mutator], None]:
    """One mutator: a chain of ``live`` young objects, ``dead`` garbage beside it, then one scavenge.

    With ``pinned``, the mutator first pins each scavenger worker thread
    (``scavenger-<i>``) to the ``i``-th core.
    """

    def program(m: Mutator) -> None:
        if pinned:
            for thread in threading.enumerate():
                prefix, _, index = thread.name.partition("scavenger-")
                if not prefix and index.isdigit() and thread.native_id is not None:
                    pin(thread.native_id, int(index))
        with m.scope():
            previous = None
            for _ in range(live):
                handle = m.alloc(fields=2)
                if previous is not None:
                    m.store(handle, 0, previous)
                previous = handle
            with m.scope():
                for _ in range(dead):
                    m.alloc(fields=2)
            m.isolate.collect_garbage(m)

    return program


def run_chain(live: int, dead: int, workers: int, segment: int, pinned: bool = False) -> testbed.RunResult:
    """One run of :func:`chain_program` with ``workers`` scavenger workers, checked clean.

    New space is sized for the 10x-dead case whatever ``dead`` is, so the
    only difference between cases is what the nursery holds.
    """
    page_words = 4096
    config = testbed.Config(
        mutators=1,
        scavenger_workers=workers,
        page_words=page_words,
        lab_words=256,
        new_space_pages=live * 11 * 3 // page_words + 2,
        worklist_segment=segment,
        program=chain_program(live, dead, pinned),
        yield_probability=0.0,
        switch_interval=None,
    )
    # CPython's cycle collector would otherwise run inside some pauses and
    # walk every Python object, dead heap objects included: that measures
    # the interpreter, not the scavenger.
    gc.collect()
    gc.disable()
    try:
        result = testbed.run(config)
    finally:
        gc.enable()
    assert result.ok, result.violations
    return result


def pause(live: int, dead: int, workers: int, pinned: bool) -> tuple[float, float, float]:
    """The pause, its zapping part and its parallel phase, in seconds, of the one scavenge the program requests."""
    result = run_chain(live, dead, workers, SEGMENT, pinned)
    assert result.stats["scavenges"] == 1, result.stats
    stats = result.stats
    return float(stats["pause_s"]), float(stats["zap_s"]), float(stats["parallel_s"])


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def _spin_on(index: int | None, n: int) -> None:
    """:func:`_spin` on a thread pinned to the ``index``-th core (None: wherever the kernel puts it)."""
    if index is not None:
        pin(0, index)
    _spin(n)


def baseline(pinned: bool, work: int = 2_000_000) -> float:
    """Seconds for ``work`` iterations split over 2 threads, over the same on 1 thread.

    About 0.1 s of work on 3.13t: with a fifth of that, readings on an idle
    machine ranged from 0.49 to 1.2, where two processes running the same
    loop gave a median of 0.51.
    """

    def timed(threads: int) -> float:
        workers = [
            threading.Thread(target=_spin_on, args=(i if pinned else None, work // threads)) for i in range(threads)
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return time.perf_counter() - started

    one = timed(1)
    return timed(2) / one


def _burst(threads: int, work: int, pinned: bool) -> float:
    """Seconds from waking ``threads`` idle threads to the last one's end, ``work`` iterations split among them."""
    go = threading.Event()
    ends: list[float] = []

    def body(index: int, share: int) -> None:
        if pinned:
            pin(0, index)
        go.wait()
        _spin(share)
        ends.append(time.perf_counter())  # list.append is atomic on either build

    workers = [threading.Thread(target=body, args=(i, work // threads)) for i in range(threads)]
    for worker in workers:
        worker.start()
    _spin(work // 2)  # the measuring thread computes while they idle, as the mutator does before a scavenge
    started = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
    return max(ends) - started


def burst(seconds: float, pinned: bool) -> float:
    """:func:`_burst` on 2 threads over 1, for a loop that takes about ``seconds`` on one thread."""
    calibrate = 100_000
    started = time.perf_counter()
    _spin(calibrate)
    per_iteration = (time.perf_counter() - started) / calibrate
    work = max(calibrate, int(seconds / per_iteration))
    one = _burst(1, work, pinned)
    return _burst(2, work, pinned) / one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--live", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="let the kernel place the worker threads (default: one per core)",
    )
    args = parser.parse_args()
    live = args.live
    pinned = args.pin and can_pin()
    # Cases alternate run by run, so a burst of load elsewhere hits both
    # sides of a ratio; each ratio is the median of the back-to-back ratios.
    dead0: list[tuple[float, float, float]] = []
    dead10: list[tuple[float, float, float]] = []
    by_workers: dict[int, list[tuple[float, float, float]]] = {1: [], 2: [], 4: []}
    baselines: list[float] = []
    bursts: list[float] = []
    for _ in range(args.repeat):
        dead0.append(pause(live, 0, 1, pinned))
        dead10.append(pause(live, 10 * live, 1, pinned))
        for workers, pauses in by_workers.items():
            pauses.append(pause(live, 0, workers, pinned))
        baselines.append(baseline(pinned))
        bursts.append(burst(by_workers[1][-1][2], pinned))
    print(f"{'case':32} {'best ms':>9} {'median ms':>10}")
    rows = [
        (f"live {live}, dead 0", [p for p, _, _ in dead0]),
        (f"live {live}, dead {10 * live}", [p for p, _, _ in dead10]),
        ("  of which zapping, dead 0", [z for _, z, _ in dead0]),
        (f"  of which zapping, dead {10 * live}", [z for _, z, _ in dead10]),
    ]
    for w, cases in by_workers.items():
        rows.append((f"live {live}, {w} worker(s)", [p for p, _, _ in cases]))
        rows.append(("  of which parallel phase", [c for _, _, c in cases]))
    for name, pauses in rows:
        print(f"{name:32} {min(pauses) * 1e3:>9.2f} {statistics.median(pauses) * 1e3:>10.2f}")
    pause_ratio = statistics.median(b[0] / a[0] for a, b in zip(dead0, dead10, strict=True))
    copy_ratio = statistics.median((b[0] - b[1]) / (a[0] - a[1]) for a, b in zip(dead0, dead10, strict=True))
    one, two, four = by_workers[1], by_workers[2], by_workers[4]
    worker_ratio = statistics.median(b[0] / a[0] for a, b in zip(one, four, strict=True))
    parallel_ratio = statistics.median(b[2] / a[2] for a, b in zip(one, two, strict=True))
    pause2_ratio = statistics.median(b[0] / a[0] for a, b in zip(one, two, strict=True))
    gil = int(getattr(sys, "_is_gil_enabled", lambda: True)())
    print(f"{'2 threads vs 1, pure-Python CPU loop':44} median ratio {statistics.median(baselines):.3f}")
    print(f"{'  the same, a burst as long as the phase':44} median ratio {statistics.median(bursts):.3f}")
    print(
        f"dead10x_vs_dead0_copy_ratio={copy_ratio:.3f} dead10x_vs_dead0_pause_ratio={pause_ratio:.3f} "
        f"workers4_vs_workers1_pause_ratio={worker_ratio:.3f} workers2_vs_workers1_copy_ratio={parallel_ratio:.3f} "
        f"workers2_vs_workers1_pause_ratio={pause2_ratio:.3f} "
        f"baseline_2threads_vs_1_ratio={statistics.median(baselines):.3f} "
        f"burst_2threads_vs_1_ratio={statistics.median(bursts):.3f} pinned={int(pinned)} gil={gil}"
    )


if __name__ == "__main__":
    main()
