"""``testbed explain TRACE``: the racing pair behind each preemption, with the user's source lines.

The workload is a custom program (this file's ``two_mutators``), so the
explanation must name its lines, not only the model's; the runs are tiny
(two mutators, 40 stores each), so the whole module takes about a second.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

PROGRAM = f"{__file__}:two_mutators"


def two_mutators(m) -> None:  # an old holder receiving young objects, polling between stores
    with m.scope():
        holder = m.alloc(fields=4, old=True)
        for i in range(40):
            m.store(holder, i % 4, m.alloc(fields=1))
            m.poll()


#: the m.store line above: explanations quote it
STORE_LINE = next(i for i, line in enumerate(Path(__file__).read_text().splitlines(), 1) if "m.store(holder" in line)


def recorded(cli, tmp_path: Path) -> Path:
    trace = tmp_path / "t.json"
    args = ["run", "--program", PROGRAM, "--fault", "skip-flush", "--strategy", "random", "--seed", "1"]
    ran = cli(*args, "--gc-interval", "8", "--mutators", "2", "--trace-out", str(trace))
    assert ran.code == 1, ran
    return trace


def test_explain_names_each_preemption_with_the_programs_lines_and_checks_it(cli, tmp_path: Path) -> None:
    trace, timeline = recorded(cli, tmp_path), tmp_path / "tl.json"
    outcome = cli("explain", str(trace), "--timeline", str(timeline))
    assert outcome.code == 1, outcome
    assert "reproduced 1/1" in outcome.out
    preemptions = json.loads(trace.read_text())["preemptions"]
    assert preemptions > 0
    assert len(re.findall(r"^preemption \d+ \(tape entry \d+\), ", outcome.out, re.M)) == preemptions
    # An unshrunk trace: each preemption was tried without, and some were not needed.
    assert "NOT necessary: without it the run breaks the same way" in outcome.out
    assert f"{Path(__file__).name}:{STORE_LINE} (two_mutators), in the model testbed/" in outcome.out
    assert "racing with, before it resumed at step" in outcome.out
    assert re.search(r"^so: store-buffers-flushed on mutator-\d at step \d+: ", outcome.out, re.M)
    events = json.loads(timeline.read_text())["traceEvents"]
    starts = [e for e in events if e.get("cat") == "race" and e["ph"] == "s"]
    ends = [e for e in events if e.get("cat") == "race" and e["ph"] == "f"]
    assert starts and sorted(e["id"] for e in starts) == sorted(e["id"] for e in ends)
    assert all(e["bp"] == "e" for e in ends)


def test_after_a_shrink_every_preemption_left_is_necessary(cli, tmp_path: Path) -> None:
    trace, small = recorded(cli, tmp_path), tmp_path / "small.json"
    shrunk = cli(
        "shrink",
        str(trace),
        "-o",
        str(small),
    )
    assert shrunk.code == 1, shrunk
    assert "1-minimal: no single preemption left can go" in shrunk.out
    outcome = cli("replay", str(small), "--explain")
    assert outcome.code == 1, outcome
    assert "NOT necessary" not in outcome.out
    left = json.loads(small.read_text())["preemptions"]
    if left:
        assert outcome.out.count(", necessary: without it the run finds") == left
    else:
        assert "no preemption in this trace" in outcome.out


def test_timeline_without_explain_is_refused(cli, tmp_path: Path) -> None:
    trace = recorded(cli, tmp_path)
    outcome = cli("replay", str(trace), "--timeline", str(tmp_path / "tl.json"))
    assert outcome.code == 2 and "needs --explain" in outcome.err


def test_joint_shrink_reports_the_knobs_it_reduced_and_leaves_unread_ones(cli, tmp_path: Path) -> None:
    trace, small, result = recorded(cli, tmp_path), tmp_path / "small.json", tmp_path / "r.json"
    outcome = cli("shrink", str(trace), "-o", str(small), "--joint", "--json", str(result))
    assert outcome.code == 1, outcome
    document = json.loads(result.read_text())
    knobs = document["shrink"]["knobs"]
    assert knobs, outcome.out
    for name, change in knobs.items():
        assert change["after"] < change["before"]
        assert re.search(rf"^  {re.escape(name)} +{change['before']} -> {change['after']}$", outcome.out, re.M)
    # The program never reads ops (40 stores whatever the config says): that knob changes nothing.
    assert "ops" not in knobs
    assert json.loads(small.read_text())["config"]["program"].endswith(":two_mutators")
    assert cli("replay", str(small)).code == 1
