"""`testbed timeline`: a trace becomes Chrome trace-event JSON with a track per thread."""

from __future__ import annotations

import json
from pathlib import Path


def test_timeline_writes_one_track_per_thread_and_marks_the_violation(cli, tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    args = ("run", "--scenario", "store-buffer-storm", "--strategy", "random", "--seed", "3", "--ops", "300")
    ran = cli(*args, "--fault", "unlocked-remset-insert", "--trace-out", str(trace))
    assert ran.code == 1, ran
    out = tmp_path / "timeline.json"
    made = cli("timeline", str(trace), "-o", str(out))
    assert made.code == 0, made
    events = json.loads(out.read_text())["traceEvents"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {f"mutator-{i}" for i in range(4)} <= names
    slices = [e for e in events if e["ph"] == "X"]
    assert slices and all(e["dur"] >= 1 for e in slices)
    violations = [e for e in events if e.get("cat") == "violation"]
    assert [e["name"] for e in violations] == ["violation: remset-complete"]


def test_timeline_of_a_file_that_is_not_a_trace_is_a_usage_error(cli, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text("{}")
    outcome = cli("timeline", str(bogus), "-o", str(tmp_path / "out.json"))
    assert outcome.code == 2
    assert outcome.err.startswith("testbed: error:") and outcome.err.count("\n") == 1
