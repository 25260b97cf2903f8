"""Does pinning turn free findings into exact schedules? And what does the recording add over a plain search?

    PYTHONPATH=. python bench/pinning.py [--seeds 10] [--schedules 2] [--budget 50] [--faults F,...]

For every available fault, on the scenario aimed at it, a free campaign
(``testbed.stress``, ``--schedules`` schedules) per campaign seed 1..N
with pinning on (``pin=--budget``).  Every bucket found is one pinning
attempt: pinned or not, the schedules and seconds it took.  For the same
bucket, ``unguided`` runs a plain POS campaign of the same scenario, fault
and campaign seed within the same budget of schedules and counts it when
one of its findings has the bucket's signature (invariant, operation,
thread roles): what a search without the free run's recording reproduces.
Per fault::

    pinning fault=F found=K pinned=P median_pin_schedules=M median_pin_s=T unguided=U

and last::

    pinning pinned_ratio=R unguided_ratio=Q median_pin_s=T

(pinned and unguided over found, over every fault; the median over every
pinned bucket).  Issue 18's targets: pinned_ratio >= 0.9, median_pin_s
<= 10 on 2 cores.  The campaigns run one at a time, in this process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

import testbed
from testbed.faults import Fault


def unguided(fault: Fault, seed: int, budget: int, target: tuple[Any, ...]) -> bool:
    """Whether a POS campaign of ``budget`` schedules (same scenario, fault, campaign seed) finds ``target``."""

    def found(result: testbed.StressResult) -> str | None:
        for bucket in result.buckets:
            signature = bucket.signature
            if (signature.invariant, signature.operation, signature.roles) == target:
                return "found"
        return None

    result = testbed.stress(
        [fault.scenario], seed=seed, schedules=budget, strategy="pos", faults=[fault.name], monitor=found
    )
    return found(result) is not None


def measure(fault: Fault, seeds: int, schedules: int, budget: int) -> dict[str, Any]:
    pins: list[dict[str, Any]] = []
    unguided_count = 0
    for seed in range(1, seeds + 1):
        result = testbed.stress([fault.scenario], seed=seed, schedules=schedules, faults=[fault.name], pin=budget)
        for bucket in result.buckets:
            if bucket.pin is None:
                continue
            pins.append(bucket.pin)
            signature = bucket.signature
            unguided_count += unguided(fault, seed, budget, (signature.invariant, signature.operation, signature.roles))
    pinned = [p for p in pins if p["pinned"]]
    return {
        "found": len(pins),
        "pinned": len(pinned),
        "schedules": [p["schedules"] for p in pinned],
        "seconds": [p["seconds"] for p in pinned],
        "unguided": unguided_count,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="free campaigns per fault (default 10)")
    parser.add_argument("--schedules", type=int, default=2, help="schedules per free campaign (default 2)")
    parser.add_argument("--budget", type=int, default=50, help="pin budget per bucket (default 50)")
    parser.add_argument("--faults", default="", help="comma-separated fault names (default: every available one)")
    args = parser.parse_args(argv)
    faults = [f for f in testbed.FAULTS if f.available]
    if args.faults:
        wanted = set(args.faults.split(","))
        faults = [f for f in faults if f.name in wanted]
    found = pinned = unguided_total = 0
    seconds: list[float] = []
    for fault in faults:
        row = measure(fault, args.seeds, args.schedules, args.budget)
        found += row["found"]
        pinned += row["pinned"]
        unguided_total += row["unguided"]
        seconds += row["seconds"]
        median_schedules = statistics.median(row["schedules"]) if row["schedules"] else 0
        median_s = statistics.median(row["seconds"]) if row["seconds"] else 0.0
        print(
            f"pinning fault={fault.name} found={row['found']} pinned={row['pinned']} "
            f"median_pin_schedules={median_schedules:g} median_pin_s={median_s:.2f} unguided={row['unguided']}",
            flush=True,
        )
    ratio = pinned / found if found else 0.0
    unguided_ratio = unguided_total / found if found else 0.0
    median = statistics.median(seconds) if seconds else 0.0
    print(f"pinning pinned_ratio={ratio:.3f} unguided_ratio={unguided_ratio:.3f} median_pin_s={median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
