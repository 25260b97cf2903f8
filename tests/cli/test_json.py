"""The ``testbed.result/3`` document of ``--json FILE|-`` (docs/design.md, 'The JSON result')."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import testbed

DOCUMENT_KEYS = {"schema", "command", "scenario", "seed", "strategy", "faults", "schedules", "violations", "stats"}
VIOLATION_KEYS = {"invariant", "message", "step", "seed", "trace", "reproduce"}
STATS_KEYS = {"scavenges", "mark_compacts", "deopts", "safepoints", "points", "wall_s", "process_peak_rss_mb"}


def _check_document(doc: Any, command: str) -> None:
    assert isinstance(doc, dict)
    assert doc["schema"] == "testbed.result/3"
    assert doc.keys() >= DOCUMENT_KEYS, DOCUMENT_KEYS - doc.keys()
    assert doc["command"] == command
    assert isinstance(doc["scenario"], str)
    assert isinstance(doc["seed"], int)
    assert doc["strategy"] == "free"
    assert isinstance(doc["faults"], list)
    assert isinstance(doc["schedules"], int) and doc["schedules"] >= 1
    assert isinstance(doc["violations"], list)
    for violation in doc["violations"]:
        assert violation.keys() >= VIOLATION_KEYS, VIOLATION_KEYS - violation.keys()
        assert isinstance(violation["invariant"], str) and violation["invariant"]
        assert isinstance(violation["message"], str) and violation["message"]
        assert isinstance(violation["step"], int)
        assert isinstance(violation["seed"], int)
        assert violation["trace"] is None or isinstance(violation["trace"], str)
        assert violation["reproduce"].startswith(
            f"testbed run --scenario {violation.get('scenario', doc['scenario'])} "
        )
        assert f"--seed {violation['seed']} " in violation["reproduce"]
    stats = doc["stats"]
    assert stats.keys() >= STATS_KEYS, STATS_KEYS - stats.keys()
    for key in STATS_KEYS:
        assert isinstance(stats[key], int | float) and stats[key] >= 0, (key, stats[key])


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("run", ("--ops", "200")),
        ("stress", ("--schedules", "3", "--ops", "200")),
    ],
)
def test_json_to_stdout_is_pure_json_on_the_correct_model(cli, command: str, args: tuple[str, ...]) -> None:
    outcome = cli(command, *args, "--json", "-")
    assert outcome.code == 0, outcome
    doc = json.loads(outcome.out)  # nothing but the document on stdout
    _check_document(doc, command)
    assert doc["scenario"] == testbed.DEFAULT_SCENARIO
    assert doc["seed"] == 0
    assert doc["faults"] == []
    assert doc["violations"] == []
    assert doc["schedules"] == (1 if command == "run" else 3)
    assert "no violations" in outcome.err  # the human summary moved to stderr


def test_stress_json_to_stdout_with_violations(cli, caught) -> None:
    outcome = cli("stress", *caught.args, "--seed", "4", "--json", "-")
    assert outcome.code == 1, outcome
    doc = json.loads(outcome.out)
    _check_document(doc, "stress")
    assert doc["scenario"] == caught.scenario
    assert doc["seed"] == 4
    assert doc["faults"] == [caught.fault]
    assert doc["schedules"] == caught.schedules
    assert caught.invariant in {v["invariant"] for v in doc["violations"]}
    for violation in doc["violations"]:
        assert f"--fault {caught.fault}" in violation["reproduce"]
        assert violation["trace"] is None  # no --out
    assert caught.invariant in outcome.err


def test_run_json_to_stdout_with_violations(cli, caught) -> None:
    outcome = cli(
        "run", "--scenario", caught.scenario, "--fault", caught.fault, "--ops", "300", "--seed", "9", "--json", "-"
    )
    assert outcome.code == 1, outcome
    doc = json.loads(outcome.out)
    _check_document(doc, "run")
    assert doc["seed"] == 9
    assert doc["schedules"] == 1
    assert doc["violations"]
    assert {v["seed"] for v in doc["violations"]} == {9}


@pytest.mark.parametrize("command", ["run", "stress"])
def test_json_to_a_file_keeps_the_human_output_on_stdout(cli, tmp_path: Path, command: str) -> None:
    target = tmp_path / "result.json"
    extra = ("--schedules", "2") if command == "stress" else ()
    outcome = cli(command, "--ops", "200", *extra, "--json", str(target))
    assert outcome.code == 0, outcome
    assert f"testbed {command}:" in outcome.out
    assert "no violations" in outcome.out
    doc = json.loads(target.read_text())
    _check_document(doc, command)


def test_json_file_is_overwritten(cli, tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    target.write_text("stale")
    assert cli("run", "--ops", "100", "--json", str(target)).code == 0
    _check_document(json.loads(target.read_text()), "run")


def test_stress_json_file_with_violations(cli, caught, tmp_path: Path) -> None:
    target = tmp_path / "found.json"
    outcome = cli("stress", *caught.args, "--json", str(target))
    assert outcome.code == 1, outcome
    doc = json.loads(target.read_text())
    _check_document(doc, "stress")
    assert len(doc["violations"]) >= 1
    assert caught.invariant in outcome.out
