"""Classic concurrency bugs (bench/sctbench) found by each explore() strategy.

    PYTHONPATH=. python bench/sct.py [--seeds N] [--cap K] [--strategies pos,uniform,...] [--programs a,b]

For each ported program (bench/sctbench, the fixed list ``PROGRAMS``) and
each strategy, runs :func:`testbed.sched.explore` on the buggy variant
with seeds ``0 .. N-1`` (each up to ``K`` schedules) and prints one line::

    sct program=P strategy=S found=F/N median_schedules=M median_ms=T kind=K each=S0,S1,...

``found`` counts the seeds whose campaign failed; ``median_schedules`` and
``median_ms`` are over the finding seeds (schedules run including the
failing one; wall time of the campaign), ``-`` when none found it;
``kind`` is the failure found (``exception`` for the program's assertion);
``each`` the schedules each seed ran to the bug (``-``: not found).
Every finding is replayed (:meth:`ExploreResult.replay`) and must fail the
same way at the same step, else the line says ``replay=DIVERGED`` and the
exit status is 1.  The last line sums up::

    sct_summary programs=P strategies=S found_all=<strategies that found every program in every seed> cells=<found cells>/<cells>

With ``--markdown`` the README's table comes before that line: per
program its original, what the suites and papers report about it
(``bench.sctbench.REPORTED``) and, per strategy, ``found/seeds, median
schedules``.

The fixed variants are checked clean over 1,000 schedules by
``stress/test_sctbench_fixed.py`` (not run here).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sctbench import PROGRAMS, REPORTED
from testbed.sched import explore
from testbed.sched._explore_strategies import NAMES

DEFAULT_STRATEGIES = ("pos", "uniform", "pct", "random", "surw", "portfolio")


def _names(text: str, known: tuple[str, ...], what: str) -> list[str]:
    names = [n for n in text.split(",") if n]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise SystemExit(f"sct.py: --{what} must be a comma-separated list of {', '.join(known)}, got {text!r}")
    return names


@dataclasses.dataclass(frozen=True)
class Cell:
    """One (program, strategy) measurement: its output line, and what the table shows."""

    line: str
    replayed: bool
    found: int
    seeds: int
    median: str

    def markdown(self) -> str:
        return f"{self.found}/{self.seeds}" + (f", {self.median}" if self.found else "")


def measure(program: str, strategy: str, seeds: int, cap: int) -> Cell:
    """One (program, strategy) cell: the output line, whether every finding replayed, the counts."""
    module = importlib.import_module(f"bench.sctbench.{program}")
    found: list[tuple[int, float]] = []
    each: list[str] = []
    kinds: set[str] = set()
    replayed = True
    for seed in range(seeds):
        start = time.perf_counter()
        result = explore(**module.buggy().arguments(), strategy=strategy, schedules=cap, seed=seed)
        elapsed = (time.perf_counter() - start) * 1000
        each.append(str(result.schedules) if result.failed else "-")
        if result.failed:
            found.append((result.schedules, elapsed))
            kinds.add(result.kind or "?")
            again = result.replay()
            replayed &= (again.kind, again.step) == (result.kind, result.step)
    schedules = f"{statistics.median(s for s, _ in found):g}" if found else "-"
    ms = f"{statistics.median(t for _, t in found):.1f}" if found else "-"
    line = (
        f"sct program={program} strategy={strategy} found={len(found)}/{seeds} "
        f"median_schedules={schedules} median_ms={ms} kind={'+'.join(sorted(kinds)) or '-'} "
        f"each={','.join(each)}"
    )
    return Cell(line + ("" if replayed else " replay=DIVERGED"), replayed, len(found), seeds, schedules)


def markdown(programs: list[str], strategies: list[str], cells: dict[tuple[str, str], Cell]) -> list[str]:
    """The README's table: per program its original, what the suites report, and ours per strategy."""
    heads = [f"{s} (default)" if s == "portfolio" else s for s in strategies]
    rows = [
        "| program | original | the suites and papers report | " + " | ".join(heads) + " |",
        "|---|---|---|" + "---|" * len(strategies),
    ]
    for program in programs:
        original, reported = REPORTED[program]
        ours = " | ".join(cells[program, s].markdown() for s in strategies)
        rows.append(f"| {program} | {original} | {reported} | {ours} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per program and strategy (default 5)")
    parser.add_argument("--cap", type=int, default=1000, help="schedules per seed at most (default 1000)")
    parser.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES))
    parser.add_argument("--programs", default=",".join(PROGRAMS))
    parser.add_argument(
        "--markdown", action="store_true", help="also print the README's table (found seeds, median schedules)"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.cap < 1:
        raise SystemExit("sct.py: --seeds and --cap must be at least 1")
    strategies = _names(args.strategies, NAMES, "strategies")
    programs = _names(args.programs, PROGRAMS, "programs")
    cells: dict[tuple[str, str], Cell] = {}
    for program in programs:
        for strategy in strategies:
            cell = cells[program, strategy] = measure(program, strategy, args.seeds, args.cap)
            print(cell.line, flush=True)
    if args.markdown:
        print("\n".join(markdown(programs, strategies, cells)))
    everywhere = {key for key, cell in cells.items() if cell.found == args.seeds}
    best = ",".join(s for s in strategies if all((p, s) in everywhere for p in programs)) or "none"
    print(
        f"sct_summary programs={len(programs)} strategies={len(strategies)} "
        f"found_all={best} cells={len(everywhere)}/{len(cells)} seeds={args.seeds} cap={args.cap}"
    )
    return 0 if all(cell.replayed for cell in cells.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
