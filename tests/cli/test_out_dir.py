"""``stress --out DIR``: the file of each bucket's smallest finding, named by its ``trace``, and ``index.json``."""

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
    assert {b["smallest"]["trace"] for b in buckets} == {str(f) for f in files}  # one per bucket, nothing else
    # the kept findings point at their files; the others keep their reproduce commands only
    assert {v["trace"] for v in violations} - {None} == {str(f) for f in files}

    for path in files:
        data = json.loads(path.read_text())
        assert data["schema"] == "testbed.result/3"
        assert data["command"] == "run"
        mine = [v for v in violations if v["trace"] == str(path)]
        assert mine
        assert data["config"]["scenario"] == caught.scenario
        assert data["config"]["faults"] == [caught.fault]
        assert {v["seed"] for v in mine} == {data["config"]["seed"]}
        for violation in data["violations"]:
            assert violation["trace"] == str(path)
            assert violation["reproduce"] in {v["reproduce"] for v in mine}
        assert str(data["config"]["seed"]) in path.name
        assert "points" in data["stats"]

    # the human summary (on stderr with --json -) points at the files too
    assert any(f"details: {f}" in outcome.err for f in files)


def test_out_into_an_existing_directory(cli, caught, tmp_path: Path) -> None:
    (tmp_path / "unrelated.txt").write_text("kept\n")
    outcome = cli("stress", *caught.args, "--out", str(tmp_path))
    assert outcome.code == 1, outcome
    written = [p for p in tmp_path.iterdir() if p.suffix == ".json" and p.name != "index.json"]
    assert 1 <= len(written) <= caught.schedules
    assert (tmp_path / "unrelated.txt").read_text() == "kept\n"
    for path in written:
        assert json.loads(path.read_text())["violations"]
    assert "details: " + str(tmp_path) in outcome.out


def test_out_stays_empty_when_nothing_fails(cli, tmp_path: Path) -> None:
    out = tmp_path / "found"
    outcome = cli("stress", "--schedules", "3", "--ops", "200", "--out", str(out), "--json", "-")
    assert outcome.code == 0, outcome
    assert json.loads(outcome.out)["violations"] == []
    assert out.is_dir()
    assert list(out.iterdir()) == []
