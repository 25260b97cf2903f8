"""Nothing overwritten (issue 17 part 5): an output that is an input, or that collides with another
output (resolved paths, files written inside ``--out`` included), is refused before anything runs;
a reused ``--out`` holds only this campaign's index and traces, and says what it replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def trace(cli, tmp_path: Path) -> Path:
    path = tmp_path / "t.json"
    assert cli("run", "--strategy", "random", "--ops", "30", "--trace-out", str(path)).code == 0
    return path


@pytest.mark.parametrize("spelling", ["{dir}/t.json", "{dir}/./t.json", "{dir}/../{name}/t.json"])
def test_timeline_refuses_to_write_over_its_trace(cli, usage_error, trace: Path, spelling: str) -> None:
    before = trace.read_bytes()
    output = spelling.format(dir=trace.parent, name=trace.parent.name)
    usage_error(cli("timeline", str(trace), "-o", output), f"-o {output!r}", "input TRACE", str(trace))
    assert trace.read_bytes() == before


def test_shrink_refuses_to_write_over_its_trace(cli, usage_error, caught, tmp_path: Path) -> None:
    trace = tmp_path / "f.json"
    ran = cli(
        "run",
        "--scenario",
        caught.scenario,
        "--fault",
        caught.fault,
        "--strategy",
        "random",
        "--ops",
        "100",
        "--trace-out",
        str(trace),
    )
    assert ran.code == 1, ran
    before = trace.read_bytes()
    usage_error(cli("shrink", str(trace), "-o", str(trace)), "input TRACE")
    assert trace.read_bytes() == before


def test_an_output_over_the_program_file_is_refused(cli, usage_error, tmp_path: Path) -> None:
    program = tmp_path / "load.py"
    program.write_text("def program(m):\n    m.poll()\n")
    usage_error(cli("run", "--program", f"{program}:program", "--json", str(program)), "--program file")
    assert program.read_text().startswith("def program")


@pytest.mark.parametrize("inside", ["index.json", "trace-waltz-1.json", "hypothesis-db"])
def test_json_inside_out_where_the_campaign_writes_is_refused(cli, usage_error, tmp_path: Path, inside: str) -> None:
    out = tmp_path / "od"
    out.mkdir()
    usage_error(cli("stress", "--schedules", "1", "--out", f"{out}/", "--json", str(out / inside)), "--out", inside)
    assert list(out.iterdir()) == []  # refused before anything ran, and what was claimed is gone again


def test_json_beside_the_campaigns_files_is_accepted(cli, tmp_path: Path) -> None:
    out = tmp_path / "od"
    out.mkdir()
    outcome = cli("stress", "--schedules", "1", "--ops", "50", "--out", str(out), "--json", str(out / "r.json"))
    assert outcome.code == 0, outcome
    assert json.loads((out / "r.json").read_text())["schedules"] == 1


def test_a_reused_out_holds_only_this_campaigns_index_and_traces(cli, caught, tmp_path: Path) -> None:
    out = tmp_path / "od"
    first = cli("stress", *caught.args, "--out", str(out), "--json", "-")
    assert first.code == 1, first
    earlier = {p.name for p in out.iterdir()} - {"index.json"}
    assert earlier
    (out / "notes.txt").write_text("mine\n")
    (out / "hypothesis-db").mkdir()  # Hypothesis' example database: it replays saved failures next time
    (out / "hypothesis-db" / "entry").write_text("saved\n")

    second = cli("stress", *caught.args, "--seed", "9", "--out", str(out), "--json", "-")
    assert second.code == 1, second
    assert f"testbed: replaced {len(earlier)} trace" in second.err
    assert f"and the index of an earlier campaign in {out}" in second.err
    doc = json.loads(second.out)
    kept = {
        Path(b["smallest"][key]).name for b in doc["buckets"] for key in ("trace", "free_trace") if key in b["smallest"]
    }
    assert {p.name for p in out.iterdir()} == kept | {"index.json", "notes.txt", "hypothesis-db"}
    assert json.loads((out / "index.json").read_text())["buckets"] == doc["buckets"]
    assert (out / "hypothesis-db" / "entry").read_text() == "saved\n"

    clean = cli("stress", "--schedules", "1", "--ops", "50", "--out", str(out))
    assert clean.code == 0, clean
    assert {p.name for p in out.iterdir()} == {"notes.txt", "hypothesis-db"}  # a clean campaign: no findings kept
