"""Is every fault caught by what it does to the heap? Detection with the protocol checks switched off.

    python bench/ablation.py [--seeds 20] [--strategy pos] [--faults F,...] [--jobs 1]

The protocol-level checks (``world-stopped``, ``store-buffers-flushed``,
``sweeper-paused-during-scavenge``) are V8's DCHECKs: they name the cause
first, but they read the protocol, not its consequence.  A fault whose
race does damage is still caught without them, by an invariant about the
heap itself (the remembered set, forwarding, dangling references,
reachability, the weak list, frames), or, for a fault whose bug is a hang
(its catalogue entry names ``safepoint-liveness``), by liveness.

For every available fault, on the scenario aimed at it, one controlled
run per seed 1..N with the named strategy (the same for every fault), twice:
with every check, and with the protocol checks disabled
(``Config.disabled_invariants``: evaluated, never reported).  Per fault::

    ablation fault=F all=K/N heap_only=K/N first_heap_detector=INV

``first_heap_detector`` is the invariant the heap-only runs reported first
most often (``-`` when none caught it; a heap-only run that ended in any
other report, e.g. ``model-error``, is not counted).  The last line::

    ablation faults=F heap_only_caught=X heap_only_rate=R below_16=...

``heap_only_caught``: faults whose heap-only rate is at least 80% of their
all-checks rate (and not zero); ``heap_only_rate``: heap-only detections
over all-checks detections, summed over every fault; ``below_16``: faults
whose all-checks rate is under 16/20 of the seeds (a gap in the scenario).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import sys

import testbed
from testbed.faults import Fault

#: the checks about the protocol rather than the heap (V8's DCHECKs)
PROTOCOL = frozenset({"world-stopped", "store-buffers-flushed", "sweeper-paused-during-scavenge"})
#: what counts as a heap consequence
HEAP = frozenset(
    {
        "remset-complete",
        "remset-precise",
        "no-from-space-refs",
        "forwarding-unique",
        "no-dangling",
        "reachability-preserved",
        "weak-list-wellformed",
        "weak-list-complete",
        "weak-list-cleared",
        "frames-consistent",
    }
)


def consequences(fault: Fault) -> frozenset[str]:
    """The invariants whose report counts as heap evidence for ``fault``."""
    return HEAP | {"safepoint-liveness"} if "safepoint-liveness" in fault.caught_by else HEAP


def first_invariant(fault_name: str, seed: int, strategy: str, heap_only: bool) -> str | None:
    """The invariant a run of ``fault_name`` reported first (None: a clean run)."""
    fault = next(f for f in testbed.FAULTS if f.name == fault_name)
    config = testbed.scenario_config(
        fault.scenario,
        seed=seed,
        strategy=strategy,
        faults={fault.name},
        disabled_invariants=PROTOCOL if heap_only else frozenset(),
    )
    result = testbed.run(config)
    return result.violations[0].invariant if result.violations else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--strategy", default="pos")
    parser.add_argument("--faults", default="", help="comma-separated fault names (default: every available one)")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    faults = [f for f in testbed.FAULTS if f.available]
    if args.faults:
        wanted = args.faults.split(",")
        unknown = sorted(set(wanted) - {f.name for f in faults})
        if unknown:
            parser.error(f"unknown fault {unknown[0]!r}")
        faults = [f for f in faults if f.name in wanted]
    seeds = range(1, args.seeds + 1)
    caught = 0
    total_all = total_heap = 0
    below = []
    with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        for fault in faults:
            runs = {
                (seed, heap_only): pool.submit(first_invariant, fault.name, seed, args.strategy, heap_only)
                for seed in seeds
                for heap_only in (False, True)
            }
            found_all = sum(runs[seed, False].result() is not None for seed in seeds)
            heap_firsts = [runs[seed, True].result() for seed in seeds]
            heap_firsts = [name for name in heap_firsts if name in consequences(fault)]
            found_heap = len(heap_firsts)
            detector = collections.Counter(heap_firsts).most_common(1)[0][0] if heap_firsts else "-"
            print(
                f"ablation fault={fault.name} all={found_all}/{len(seeds)} heap_only={found_heap}/{len(seeds)} "
                f"first_heap_detector={detector}",
                flush=True,
            )
            total_all += found_all
            total_heap += found_heap
            if found_heap and found_heap >= 0.8 * found_all:
                caught += 1
            if found_all < 0.8 * len(seeds):
                below.append(fault.name)
    rate = total_heap / total_all if total_all else 0.0
    print(
        f"ablation faults={len(faults)} heap_only_caught={caught} heap_only_rate={rate:.3f} "
        f"below_16={','.join(below) or '-'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
