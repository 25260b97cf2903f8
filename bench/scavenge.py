"""Scavenge pause: proportional to the live set, not the dead; and by worker count.

    PYTHONPATH=. python bench/scavenge.py [--live 2000] [--repeat 5]

A copying collector touches only what survives, so a nursery holding ten
times as many dead objects as live ones should pause about as long as one
holding none.  One mutator allocates ``--live`` objects kept alive by
handles (a chain, so every copy is reached through a field as well), plus
0 or 10x as many objects it drops, then requests a scavenge; the pause is
the time the collector ran (``RunStats.pause_s``).  Then the same live set
with 1, 2 and 4 scavenger workers.

Under the GIL, worker threads interleave rather than run in parallel, so
more workers cannot shorten the pause; they add handoffs and contention.
On a free-threaded build (PEP 703, ``python3.13t``) the workers' copying
could overlap, as V8's does on several cores.

Last line: ``dead10x_vs_dead0_pause_ratio=<float> workers4_vs_workers1_pause_ratio=<float>``.
"""

from __future__ import annotations

import argparse

import testbed
from testbed.runtime import Mutator


def pause(live: int, dead: int, workers: int, repeat: int) -> float:
    """Best pause in seconds of the one scavenge the program requests.

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
    pauses = []
    for _ in range(repeat):
        result = testbed.run(config)
        assert result.ok, result.violations
        assert result.stats["scavenges"] == 1, result.stats
        pauses.append(result.stats["pause_s"])
    # The minimum: noise (other processes, the GIL's switch interval) only adds.
    return min(pauses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--live", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    live = args.live
    print(f"{'case':28} {'pause ms (best of ' + str(args.repeat) + ')':>26}")
    dead0 = pause(live, 0, 1, args.repeat)
    print(f"{'live ' + str(live) + ', dead 0':28} {dead0 * 1e3:>26.2f}")
    dead10 = pause(live, 10 * live, 1, args.repeat)
    print(f"{'live ' + str(live) + ', dead ' + str(10 * live):28} {dead10 * 1e3:>26.2f}")
    by_workers = {}
    for workers in (1, 2, 4):
        by_workers[workers] = pause(live, 0, workers, args.repeat)
        print(f"{'live ' + str(live) + f', {workers} worker(s)':28} {by_workers[workers] * 1e3:>26.2f}")
    print(
        f"dead10x_vs_dead0_pause_ratio={dead10 / dead0:.3f} "
        f"workers4_vs_workers1_pause_ratio={by_workers[4] / by_workers[1]:.3f}"
    )


if __name__ == "__main__":
    main()
