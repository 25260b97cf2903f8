"""Re-record the fault traces that tests/controlled/test_fault_detection.py pins.

    PYTHONPATH=. python tests/controlled/record_fault_traces.py [FAULT ...]

Each case's seed is run and its trace written to ``fault_traces/FAULT.json``.
A change to the model that adds or removes scheduling points, or to the
random strategy, moves the schedules: the pinning test then fails, and this
script records the new ones.  When a case's seed no longer finds its fault
through one of its catalogued detectors, the script searches the next seeds
and prints the one to put into ``CASES`` instead of writing anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import testbed
from testbed.sched import write_trace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.controlled.test_fault_detection import CASES, TRACES, Case  # noqa: E402

SEARCH = 300


def found_by_a_mutator(case: Case, seed: int) -> testbed.RunResult | None:
    result = testbed.run(case.config(seed=seed))
    if not result.violations:
        return None
    first = result.violations[0]
    if first.invariant != case.invariant or not first.thread.startswith("mutator-"):
        return None
    return result


def main(wanted: list[str]) -> int:
    status = 0
    for case in CASES:
        if wanted and case.fault not in wanted:
            continue
        result = found_by_a_mutator(case, case.seed)
        if result is not None:
            write_trace(TRACES / f"{case.fault}.json", result.trace)
            print(f"{case.fault}: seed {case.seed}, {case.invariant} at step {result.violations[0].step}")
            continue
        status = 1
        better = next((s for s in range(1, SEARCH) if found_by_a_mutator(case, s) is not None), None)
        print(f"{case.fault}: seed {case.seed} no longer finds {case.invariant}; seed {better} does")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
