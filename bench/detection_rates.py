"""How fast each strategy finds each catalogued fault: schedules and seconds to first detection.

    python bench/detection_rates.py [--strategies free,random,pct,portfolio] [--seeds 10] [--cap 20]
        [--seed 1] [--faults F,...] [--jobs 1] [--scenarios aimed|all]

For every available fault, on the scenario aimed at it (``testbed.FAULTS[i].scenario``),
and every strategy: for each of ``--seeds`` campaign seeds ``s`` (``--seed``,
``--seed + 1``, ...) runs the schedules ``testbed stress --seed s`` runs, one after
another, until the first schedule that reports any violation or ``--cap``
schedules.  Per (fault, strategy) it prints one line::

    detection fault=F strategy=S found=K/N median_schedules=M median_s=T rate=R each=C1,C2,...

``found``: seeds with a detection within the cap; ``median_schedules``: the
median over all N seeds of the schedules run up to and including the first
detection (a miss counts as infinite, so ``inf`` means half or more missed);
``median_s``: the same for wall seconds from the campaign's start (PCT's
probe included) to the end of the detecting schedule; ``rate``: detections
over schedules run (a miss ran the cap), the estimate of one schedule's
chance of a detection (the maximum-likelihood estimate for independent
schedules); ``each``: each seed's schedules to its detection (``-``: a miss).  A line
``first_detectors fault=F strategy=S INVARIANT:COUNT ...`` follows: the
invariant each detecting schedule reported first.

A strategy name with ``+cal`` (``free+cal``) runs its campaigns calibrated
(``stress --calibrate``: each schedule draws its knobs).  ``--scenarios all``
runs every campaign over all scenarios round robin (``stress --scenario
all``) instead of the scenario aimed at the fault.

The first line names the interpreter and whether its GIL is on
(``interpreter python=3.13.5 gil=0`` on a free-threaded build): run it on
both builds with ``--strategies free --seeds 20`` to see which races the GIL
hid and which it made common.  ``--compare GIL.txt FREE.txt`` reads two such
outputs (the free strategy's lines; give the ``--cap`` they ran with) and
prints the README's table of the two side by side, a fault per row,
instead of running anything: a race is more common on one build where the
95% intervals of the two per-schedule rates do not overlap.

The last line is a summary ``summary name=value ...``: the faults and, when
both ``free`` and ``portfolio`` ran, ``portfolio_not_slower_than_free=K/F``,
the faults on which portfolio found at least as many seeds as free with a
median schedule count and a median wall time each no larger than free's, and
for each ``S+cal`` run beside ``S``, ``S+cal_not_slower_than_S=K/F`` alike,
plus ``S+cal_vs_S_total_schedules`` and ``S+cal_vs_S_total_seconds``: the
schedules and seconds the calibrated campaigns took over every fault and
seed (a miss counts the cap and its time) over the same for ``S``; below 1
is faster.  Per-fault medians of a few seeds are noisy; the totals are
what a decision should rest on.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import math
import statistics
import sys
import time
from pathlib import Path

import testbed
from testbed.faults import Fault

KNOWN = ("free", "random", "pct", "pos", "surw", "portfolio")


class _Found(Exception):
    """Raised from ``on_result`` to end a campaign at its first detection."""


def first_detection(
    fault: Fault, strategy: str, seed: int, cap: int, jobs: int, scenarios: list[str] | None = None
) -> tuple[int | None, float, str | None]:
    """(schedules to the first detection or None, seconds, the first invariant) for one campaign seed."""
    started = time.monotonic()
    seen: list[tuple[int, float, str]] = []

    def on_result(result: testbed.StressResult, outcome: testbed.RunResult) -> None:
        if outcome.violations and not seen:
            seen.append((result.schedules, time.monotonic() - started, outcome.violations[0].invariant))
            raise _Found

    with contextlib.suppress(_Found):
        base, _, calibrated = strategy.partition("+")
        result = testbed.stress(
            scenarios or [fault.scenario],
            seed=seed,
            schedules=cap,
            strategy=base,
            faults=[fault.name],
            jobs=jobs,
            on_result=on_result,
            calibrate=calibrated == "cal",
        )
        if result.stopped is not None:  # Ctrl-C (stress keeps what it found and returns): the bench ends
            raise SystemExit(f"stopped: {result.stopped}")
    if not seen:
        return None, time.monotonic() - started, None
    return seen[0]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.inf


def _text(value: float, digits: int) -> str:
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".")


def _free_lines(path: str) -> tuple[str, dict[str, dict[str, str]]]:
    """(interpreter line, fault -> fields of its ``detection ... strategy=free`` line) of one output file."""
    interpreter, lines = "", {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("interpreter "):
            interpreter = line.removeprefix("interpreter ")
        elif line.startswith("detection ") and " strategy=free " in line:
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            lines[fields["fault"]] = fields
    return interpreter, lines


def _interval(fields: dict[str, str], cap: int) -> tuple[float, float]:
    """The two-sided 95% Clopper-Pearson interval of the per-schedule rate (detections over schedules run)."""
    found = int(fields["found"].split("/")[0])
    ran = sum(cap if n == "-" else int(n) for n in fields["each"].split(","))

    def at_least(k: int, p: float) -> float:  # P(X >= k) for X ~ Binomial(ran, p): increasing in p
        # in logarithms: math.comb(ran, i) overflows a float from ran = 1,030 on
        log_n = math.lgamma(ran + 1)
        return sum(
            math.exp(
                log_n - math.lgamma(i + 1) - math.lgamma(ran - i + 1) + i * math.log(p) + (ran - i) * math.log1p(-p)
            )
            for i in range(k, ran + 1)
        )

    def solve(k: int, target: float) -> float:  # the p where P(X >= k) = target
        lo, hi = 0.0, 1.0
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if at_least(k, mid) < target else (lo, mid)
        return (lo + hi) / 2

    low = solve(found, 0.025) if found else 0.0
    high = solve(found + 1, 0.975) if found < ran else 1.0  # P(X <= found) = 0.025
    return low, high


def compare(gil_path: str, free_path: str, cap: int) -> list[str]:
    """The README's table: per fault, each build's seeds found, median schedules and per-schedule rate.

    A race counts as more common on one build only when the two rates' 95% intervals do not overlap.
    """
    (gil_name, gil), (free_name, free) = _free_lines(gil_path), _free_lines(free_path)
    if not gil or not free:
        raise SystemExit("detection_rates.py: --compare needs two outputs with free-strategy detection lines")
    rows = [
        f"| fault | scenario | GIL ({gil_name}): found, median, rate | free-threaded ({free_name}): found, median, rate "
        "| more common on |",
        "|---|---|---|---|---|",
    ]
    scenarios = {f.name: f.scenario for f in testbed.FAULTS}
    for fault in [f for f in gil if f in free]:
        a, b = gil[fault], free[fault]
        (a_low, a_high), (b_low, b_high) = _interval(a, cap), _interval(b, cap)
        side = "free-threaded" if b_low > a_high else "GIL" if a_low > b_high else "either"
        cells = [f"{x['found']}, {x['median_schedules']}, {x['rate']}" for x in (a, b)]
        rows.append(f"| {fault} | {scenarios.get(fault, '?')} | {cells[0]} | {cells[1]} | {side} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategies", default="free,random,pct,portfolio", help=f"comma-separated, of {KNOWN}")
    parser.add_argument("--seeds", type=int, default=10, help="campaign seeds per fault and strategy")
    parser.add_argument("--cap", type=int, default=20, help="schedules per campaign seed before it counts as a miss")
    parser.add_argument("--seed", type=int, default=1, help="the first campaign seed")
    parser.add_argument("--faults", default="", help="comma-separated fault names (default: all available)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--scenarios", choices=("aimed", "all"), default="aimed", help="aimed (default) or all")
    parser.add_argument(
        "--compare", nargs=2, metavar=("GIL_OUTPUT", "FREE_OUTPUT"), help="print the two builds' table and exit"
    )
    args = parser.parse_args()
    if args.compare:
        print("\n".join(compare(*args.compare, args.cap)))
        return
    strategies = [s for s in args.strategies.split(",") if s]
    for name in strategies:
        base, plus, suffix = name.partition("+")
        if base not in testbed.STRATEGIES or (plus and suffix != "cal"):
            parser.error(f"strategy {name!r} is not available in this version (available: {testbed.STRATEGIES})")
    scenarios = sorted(testbed.SCENARIOS) if args.scenarios == "all" else None
    wanted = {f for f in args.faults.split(",") if f}
    faults = [f for f in testbed.FAULTS if f.available and (not wanted or f.name in wanted)]
    # Which interpreter ran it: on a free-threaded build (python3.13t) free mode is truly
    # parallel, so the free strategy's rates differ; compare the two builds' outputs side by side.
    gil = int(getattr(sys, "_is_gil_enabled", lambda: True)())
    print(f"interpreter python={sys.version.split()[0]} gil={gil}", flush=True)
    medians: dict[tuple[str, str], tuple[int, float, float]] = {}
    spent: collections.defaultdict[tuple[str, str], list[tuple[int, float]]] = collections.defaultdict(list)
    for fault in faults:
        for strategy in strategies:
            counts: list[float] = []
            seconds: list[float] = []
            firsts: collections.Counter[str] = collections.Counter()
            for seed in range(args.seed, args.seed + args.seeds):
                schedules, wall, invariant = first_detection(fault, strategy, seed, args.cap, args.jobs, scenarios)
                counts.append(math.inf if schedules is None else schedules)
                seconds.append(math.inf if schedules is None else wall)
                # censored: a miss counts the cap and the time it took
                spent[fault.name, strategy].append((args.cap if schedules is None else schedules, wall))
                if invariant is not None:
                    firsts[invariant] += 1
            found = sum(1 for c in counts if not math.isinf(c))
            m_schedules, m_seconds = _median(counts), _median(seconds)
            medians[fault.name, strategy] = (found, m_schedules, m_seconds)
            ran = sum(n for n, _ in spent[fault.name, strategy])
            each = ",".join("-" if math.isinf(c) else str(int(c)) for c in counts)
            print(
                f"detection fault={fault.name} strategy={strategy} found={found}/{args.seeds} "
                f"median_schedules={_text(m_schedules, 1)} median_s={_text(m_seconds, 3)} "
                f"rate={found / ran:.3f} each={each}",
                flush=True,
            )
            print(
                f"first_detectors fault={fault.name} strategy={strategy} "
                + " ".join(f"{inv}:{n}" for inv, n in firsts.most_common()),
                flush=True,
            )
    summary = [f"faults={len(faults)}", f"seeds={args.seeds}", f"cap={args.cap}"]
    for strategy in strategies:
        summary.append(f"{strategy}_found_all={sum(1 for f in faults if medians[f.name, strategy][0] == args.seeds)}")
    if "free" in strategies and "portfolio" in strategies:
        not_slower = 0
        for fault in faults:
            found, schedules, seconds = medians[fault.name, "portfolio"]
            free_found, free_schedules, free_seconds = medians[fault.name, "free"]
            if found >= free_found and schedules <= free_schedules and seconds <= free_seconds:
                not_slower += 1
        summary.append(f"portfolio_not_slower_than_free={not_slower}/{len(faults)}")
    for calibrated in strategies:
        base = calibrated.removesuffix("+cal")
        if base != calibrated and base in strategies:
            not_slower = sum(
                1
                for f in faults
                if medians[f.name, calibrated][0] >= medians[f.name, base][0]
                and medians[f.name, calibrated][1] <= medians[f.name, base][1]
                and medians[f.name, calibrated][2] <= medians[f.name, base][2]
            )
            summary.append(f"{calibrated}_not_slower_than_{base}={not_slower}/{len(faults)}")
            # Over every fault and seed, misses counted at the cap: how much of the base's search the
            # calibrated one needs (below 1: faster), less at the mercy of one fault's noisy median.
            for what, column in (("schedules", 0), ("seconds", 1)):
                totals = [sum(x[column] for f in faults for x in spent[f.name, name]) for name in (calibrated, base)]
                summary.append(f"{calibrated}_vs_{base}_total_{what}={totals[0] / max(totals[1], 1e-9):.3f}")
    print("summary " + " ".join(summary), flush=True)


if __name__ == "__main__":
    main()
