"""``stress --out DIR``: the file of each bucket's smallest finding (a free run's: its free trace and the pinned one), and ``index.json``."""

from __future__ import annotations

import json
from pathlib import Path


def test_out_keeps_one_file_per_bucket_and_an_index(cli, caught, tmp_path: Path) -> None:
    out = tmp_path / "found"  # does not exist yet: stress creates it
    outcome = cli("stress", *caught.args, "--out", str(out), "--json", "-")
    assert outcome.code == 1, outcome
    doc = json.loads(outcome.out)
    violations, buckets = doc["violations"], doc["buckets"]
    assert violations and buckets

    index = json.loads((out / "index.json").read_text())
    assert index["schema"] == "testbed.buckets/1"
    assert index["buckets"] == buckets
    files = sorted(p for p in out.iterdir() if p.name != "index.json")
    # One file per bucket (a free run's trace), and beside it the pinned trace that replays it; nothing else.
    kept = {b["smallest"]["trace"] for b in buckets} | {b["smallest"].get("free_trace") for b in buckets}
    assert kept - {None} == {str(f) for f in files}
    # the kept findings point at their files; the others keep their reproduce commands only
    assert {v["trace"] for v in violations} - {None} <= {str(f) for f in files}

    for bucket in buckets:
        smallest = bucket["smallest"]
        trace = json.loads(Path(smallest["trace"]).read_text())
        assert trace["config"]["scenario"] == caught.scenario
        assert trace["config"]["faults"] == [caught.fault]
        assert trace["seed"] == smallest["seed"] and str(smallest["seed"]) in Path(smallest["trace"]).name
        assert trace["violation"]["invariant"] == caught.invariant
        if bucket["pin"]["pinned"]:  # the controlled trace replays it; the free one stays beside it
            assert trace["kind"] == "controlled" and smallest["reproduce"].startswith("testbed replay ")
            assert json.loads(Path(smallest["free_trace"]).read_text())["kind"] == "free"
        else:
            assert trace["kind"] == "free"

    # the human summary (on stderr with --json -) points at the files too
    assert any(str(f) in outcome.err for f in files)


def test_out_into_an_existing_directory(cli, caught, tmp_path: Path) -> None:
    (tmp_path / "unrelated.txt").write_text("kept\n")
    outcome = cli("stress", *caught.args, "--out", str(tmp_path))
    assert outcome.code == 1, outcome
    written = [p for p in tmp_path.iterdir() if p.suffix == ".json" and p.name != "index.json"]
    assert 1 <= len(written) <= 2 * caught.schedules  # a free trace per bucket, and its pinned trace
    assert (tmp_path / "unrelated.txt").read_text() == "kept\n"
    for path in written:
        assert json.loads(path.read_text())["violation"]
    assert str(tmp_path) in outcome.out


def test_out_stays_empty_when_nothing_fails(cli, tmp_path: Path) -> None:
    out = tmp_path / "found"
    outcome = cli("stress", "--schedules", "3", "--ops", "200", "--out", str(out), "--json", "-")
    assert outcome.code == 0, outcome
    assert json.loads(outcome.out)["violations"] == []
    assert out.is_dir()
    assert list(out.iterdir()) == []
