"""The README's table of classic concurrency bugs is the benchmark's: same programs, same order, same sources.

``PYTHONPATH=. python bench/sct.py --markdown`` prints the table (README,
"Classic concurrency bugs"); the measured columns are the command's output
on one machine and are not checked here (they take minutes), but the
program list, the originals and what the suites report are: a program
added to, renamed in or dropped from ``bench/sctbench`` shows here.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sct import markdown
from bench.sctbench import PROGRAMS, REPORTED
from tests._readme_tables import readme_table

HEADER = "| program | original | the suites and papers report |"


def test_the_readme_table_lists_the_benchmark_programs_in_order() -> None:
    assert [row[0] for row in readme_table(HEADER)] == list(PROGRAMS)


def test_the_readme_table_cites_what_bench_sct_prints() -> None:
    assert set(REPORTED) == set(PROGRAMS)
    for row in readme_table(HEADER):
        assert tuple(row[1:3]) == REPORTED[row[0]], row[0]


def test_every_program_has_a_buggy_and_a_fixed_variant_and_the_table_has_their_rows() -> None:
    for program in PROGRAMS:
        module = importlib.import_module(f"bench.sctbench.{program}")
        assert callable(module.buggy) and callable(module.fixed)
    rows = markdown(list(PROGRAMS), [], {})
    assert len(rows) == 2 + len(PROGRAMS) and rows[0].startswith(HEADER)
