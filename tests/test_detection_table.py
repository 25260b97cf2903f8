"""The README's table of free-mode detection on both builds names every catalogued fault, on its scenario.

``bench/detection_rates.py --compare GIL.txt FREE.txt`` prints the table
(README, "On a free-threaded CPython"); its measured columns are two runs'
output and are not checked here (they take half an hour), but its rows
are: a fault added to or dropped from the catalogue, or aimed at another
scenario, shows here until the table is measured again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.detection_rates import compare
from testbed.faults import FAULTS
from tests._readme_tables import readme_table

pytestmark = pytest.mark.timeout(30)

HEADER = "| fault | scenario | GIL ("


def test_the_readme_table_has_a_row_per_available_fault_on_its_scenario() -> None:
    rows = {row[0]: row[1] for row in readme_table(HEADER)}
    assert rows == {f.name: f.scenario for f in FAULTS if f.available}


def test_compare_calls_a_race_more_common_only_where_the_intervals_part(tmp_path: Path) -> None:
    def output(name: str, each: str, found: str) -> Path:
        path = tmp_path / name
        path.write_text(
            "interpreter python=3.x gil=1\n"
            f"detection fault=skip-flush strategy=free found={found} median_schedules=1 median_s=0.1 "
            f"rate=0 each={each}\n"
        )
        return path

    always = output("always.txt", ",".join(["1"] * 20), "20/20")
    rare = output("rare.txt", ",".join(["5"] * 20), "20/20")  # 20 detections in 100 schedules
    rarer = output("rarer.txt", ",".join(["6"] * 20), "20/20")  # 20 in 120: inside rare's interval
    verdict = {(a, b): compare(str(a), str(b), 10)[2].split(" | ")[-1] for a, b in ((always, rare), (rare, always))}
    assert verdict == {(always, rare): "GIL |", (rare, always): "free-threaded |"}
    assert compare(str(rare), str(rarer), 10)[2].endswith("| either |")


def test_compare_handles_campaigns_of_thousands_of_schedules(tmp_path: Path) -> None:
    # 20 seeds of up to 100 schedules: the binomial coefficients overflow a float (from 1,030 schedules)
    paths = []
    for name, each in (("a.txt", ["60"] * 20), ("b.txt", ["-"] * 10 + ["40"] * 10)):
        path = tmp_path / name
        found = sum(1 for n in each if n != "-")
        path.write_text(
            "interpreter python=3.x gil=1\n"
            f"detection fault=skip-flush strategy=free found={found}/20 median_schedules=75 median_s=1 "
            f"rate=0 each={','.join(each)}\n"
        )
        paths.append(str(path))
    assert compare(*paths, 100)[2].endswith("| either |")  # 20 in 1,200 against 10 in 1,400
