"""Detection rate of each available fault, per scenario, in free mode.

    python bench/detection_rates.py [--seeds 200] [--seed 1] [--jobs 2] [--strategy random]
        [--faults F ...] [--scenarios S ...] [--scenario-of] [--no-clean]

For every available fault and every scenario, runs ``--seeds`` schedules
(seeds derived from ``--seed`` exactly as ``testbed stress`` derives them)
and prints how many found a violation, how many named the fault's
catalogued invariant, the per-schedule miss rate's 95% upper bound
(rule of three when nothing was missed) and the first detectors (the
invariant each failing schedule reported first, with counts).  The first
rows: the clean model's violation count over the same seeds (must be 0).
"""

from __future__ import annotations

import argparse
import collections
import time

import testbed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--faults", nargs="*", help="only these faults (default: all available)")
    parser.add_argument("--scenarios", nargs="*", help="only these scenarios (default: all)")
    parser.add_argument("--no-clean", action="store_true", help="skip the clean-model rows")
    parser.add_argument("--strategy", default="free", help="free (default), random or pct")
    parser.add_argument("--scenario-of", action="store_true", help="each fault only on the scenario aimed at it")
    args = parser.parse_args()
    faults = [f for f in testbed.FAULTS if f.available and (not args.faults or f.name in args.faults)]
    scenarios = args.scenarios or list(testbed.SCENARIOS)
    print(f"{'fault':30} {'scenario':20} {'detected':>9} {'named':>9} {'miss<=':>8} {'s':>6}  first detectors")
    for fault in ([] if args.no_clean else [None]) + faults:
        for scenario in scenarios:
            started = time.monotonic()
            if args.scenario_of and fault is not None and scenario != fault.scenario:
                continue
            result = testbed.stress(
                [scenario],
                seed=args.seed,
                schedules=args.seeds,
                faults=[fault.name] if fault else [],
                jobs=args.jobs,
                strategy=args.strategy,
            )
            detected = result.failed_schedules
            named_seeds = {
                f.seed for f in result.findings if fault and f.violation.invariant in fault.caught_by.split(" / ")
            }
            named = len(named_seeds)
            missed = result.schedules - (named if fault else result.schedules - detected)
            bound = (3 / result.schedules) if missed == 0 else min(1.0, (missed + 2 * missed**0.5) / result.schedules)
            name = fault.name if fault else "(none: clean model)"
            # findings are in schedule order, each schedule's violations in report order
            first: dict[int, str] = {}
            for finding in result.findings:
                first.setdefault(finding.seed, finding.violation.invariant)
            firsts = collections.Counter(first.values())
            print(
                f"{name:30} {scenario:20} {detected:>4}/{result.schedules:<4} {named:>4}/{result.schedules:<4} "
                f"{bound if fault else 0:>8.4f} {time.monotonic() - started:>6.1f}  "
                + " ".join(f"{inv}:{n}" for inv, n in firsts.most_common()),
                flush=True,
            )


if __name__ == "__main__":
    main()
