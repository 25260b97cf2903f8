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
more workers cannot shorten the pause; they add handoffs and contention.
On a free-threaded build (PEP 703, ``python3.13t``) the workers' copying
could overlap, as V8's does on several cores.

Last line: ``dead10x_vs_dead0_copy_ratio=<float> dead10x_vs_dead0_pause_ratio=<float>
workers4_vs_workers1_pause_ratio=<float>``.
"""

from __future__ import annotations

import argparse
import gc
import statistics

import testbed
from testbed.runtime import Mutator


def pause(live: int, dead: int, workers: int) -> tuple[float, float]:
    """The pause and its zapping part, in seconds, of the one scavenge the program requests.

    New space is sized for the 10x-dead case in every case, so the only
    difference between cases is what the nursery holds.
    """

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

    words = live * 11 * 3
    page_words = 4096
    config = testbed.Config(
        mutators=1,
        scavenger_workers=workers,
        page_words=page_words,
        lab_words=256,
        new_space_pages=words // page_words + 2,
        program=program,
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
    assert result.stats["scavenges"] == 1, result.stats
    return float(result.stats["pause_s"]), float(result.stats["zap_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--live", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    live = args.live
    # Cases alternate run by run, so a burst of load elsewhere hits both
    # sides of a ratio; each ratio is the median of the back-to-back ratios.
    dead0: list[tuple[float, float]] = []
    dead10: list[tuple[float, float]] = []
    by_workers: dict[int, list[float]] = {1: [], 2: [], 4: []}
    for _ in range(args.repeat):
        dead0.append(pause(live, 0, 1))
        dead10.append(pause(live, 10 * live, 1))
        for workers, pauses in by_workers.items():
            pauses.append(pause(live, 0, workers)[0])
    print(f"{'case':32} {'best ms':>9} {'median ms':>10}")
    rows = [
        (f"live {live}, dead 0", [p for p, _ in dead0]),
        (f"live {live}, dead {10 * live}", [p for p, _ in dead10]),
        ("  of which zapping, dead 0", [z for _, z in dead0]),
        (f"  of which zapping, dead {10 * live}", [z for _, z in dead10]),
    ]
    rows += [(f"live {live}, {w} worker(s)", p) for w, p in by_workers.items()]
    for name, pauses in rows:
        print(f"{name:32} {min(pauses) * 1e3:>9.2f} {statistics.median(pauses) * 1e3:>10.2f}")
    pause_ratio = statistics.median(b[0] / a[0] for a, b in zip(dead0, dead10, strict=True))
    copy_ratio = statistics.median((b[0] - b[1]) / (a[0] - a[1]) for a, b in zip(dead0, dead10, strict=True))
    worker_ratio = statistics.median(b / a for a, b in zip(by_workers[1], by_workers[4], strict=True))
    print(
        f"dead10x_vs_dead0_copy_ratio={copy_ratio:.3f} dead10x_vs_dead0_pause_ratio={pause_ratio:.3f} "
        f"workers4_vs_workers1_pause_ratio={worker_ratio:.3f}"
    )


if __name__ == "__main__":
    main()
