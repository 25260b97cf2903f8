"""What ``testbed shrink`` prints: a header, one line per measure, whether it is 1-minimal, where it wrote,
how to explain it; no trailing spaces."""

from __future__ import annotations

import re
from pathlib import Path


def test_shrink_prints_its_table_without_trailing_spaces(cli, tmp_path: Path) -> None:
    original, shrunk = tmp_path / "t.json", tmp_path / "small.json"
    args = "run --scenario mixed --strategy random --seed 7 --fault early-scavenge --ops 400 --gc-interval 40"
    assert cli(*args.split(), "--trace-out", str(original)).code == 1
    outcome = cli("shrink", str(original), "-o", str(shrunk), "--max-runs", "5")
    assert outcome.code == 1, outcome
    lines = outcome.out.splitlines()
    assert [line for line in lines if line != line.rstrip()] == []
    assert lines[0].startswith("testbed shrink: world-stopped still reproduces after ")
    measures = [re.fullmatch(r"  (\w+) +\d+ -> \d+", line) for line in lines[1:-1]]
    assert [m.group(1) for m in measures if m] == ["preemptions", "tape_length", "nonzero_decisions", "steps"]
    assert lines[-3] == "  not 1-minimal yet: --max-runs 5 ran out first; shrink the output again to go on"
    assert lines[-2].startswith(f"  wrote {shrunk}; reproduce: testbed replay ")
    assert lines[-1] == f"  explain: testbed explain {shrunk}"
