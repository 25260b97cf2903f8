"""Scavenge pause: copying proportional to the live set, not the dead; and by worker count.

    PYTHONPATH=. python bench/scavenge.py [--live 2000] [--repeat 5]

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

Last line: ``dead10x_vs_dead0_copy_ratio=<float> dead10x_vs_dead0_pause_ratio=<float>
workers4_vs_workers1_pause_ratio=<float> workers2_vs_workers1_copy_ratio=<float>
workers2_vs_workers1_pause_ratio=<float> baseline_2threads_vs_1_ratio=<float> gil=<0|1>``.
"""

from __future__ import annotations

import argparse
import gc
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


def chain_program(live: int, dead: int = 0) -> Callable[[Mutator], None]:
    """One mutator: a chain of ``live`` young objects, ``dead`` garbage beside it, then one scavenge."""

    def program(m: Mutator) -> None:
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


def run_chain(live: int, dead: int, workers: int, segment: int) -> testbed.RunResult:
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
        program=chain_program(live, dead),
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


def pause(live: int, dead: int, workers: int) -> tuple[float, float, float]:
    """The pause, its zapping part and its parallel phase, in seconds, of the one scavenge the program requests."""
    result = run_chain(live, dead, workers, SEGMENT)
    assert result.stats["scavenges"] == 1, result.stats
    stats = result.stats
    return float(stats["pause_s"]), float(stats["zap_s"]), float(stats["parallel_s"])


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def baseline(work: int = 2_000_000) -> float:
    """Seconds for ``work`` iterations split over 2 threads, over the same on 1 thread.

    About 0.1 s of work on 3.13t: with a fifth of that, readings on an idle
    machine ranged from 0.49 to 1.2, where two processes running the same
    loop gave a median of 0.51.
    """

    def timed(threads: int) -> float:
        workers = [threading.Thread(target=_spin, args=(work // threads,)) for _ in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return time.perf_counter() - started

    one = timed(1)
    return timed(2) / one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--live", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    live = args.live
    # Cases alternate run by run, so a burst of load elsewhere hits both
    # sides of a ratio; each ratio is the median of the back-to-back ratios.
    dead0: list[tuple[float, float, float]] = []
    dead10: list[tuple[float, float, float]] = []
    by_workers: dict[int, list[tuple[float, float, float]]] = {1: [], 2: [], 4: []}
    baselines: list[float] = []
    for _ in range(args.repeat):
        dead0.append(pause(live, 0, 1))
        dead10.append(pause(live, 10 * live, 1))
        for workers, pauses in by_workers.items():
            pauses.append(pause(live, 0, workers))
        baselines.append(baseline())
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
    print(f"{'2 threads vs 1, pure-Python CPU loop':36} median ratio {statistics.median(baselines):.3f}")
    print(
        f"dead10x_vs_dead0_copy_ratio={copy_ratio:.3f} dead10x_vs_dead0_pause_ratio={pause_ratio:.3f} "
        f"workers4_vs_workers1_pause_ratio={worker_ratio:.3f} workers2_vs_workers1_copy_ratio={parallel_ratio:.3f} "
        f"workers2_vs_workers1_pause_ratio={pause2_ratio:.3f} "
        f"baseline_2threads_vs_1_ratio={statistics.median(baselines):.3f} gil={gil}"
    )


if __name__ == "__main__":
    main()
