"""``testbed scenarios|faults|invariants``: a table, or a list of dicts with ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import testbed

CATALOGUES = {
    "scenarios": ({"name", "description", "aims_at", "default"}, sorted(testbed.SCENARIOS)),
    "faults": (
        {"name", "summary", "bug", "caught_by", "available", "where", "scenario"},
        sorted(f.name for f in testbed.FAULTS),
    ),
    "invariants": ({"name", "holds", "checked_at", "checked"}, sorted(i.name for i in testbed.INVARIANTS)),
}
HEADERS = {"scenarios": "scenario", "faults": "fault", "invariants": "invariant"}


@pytest.mark.parametrize("command", sorted(CATALOGUES))
def test_catalogue_prints_a_table(cli, command: str) -> None:
    outcome = cli(command)
    assert outcome.code == 0, outcome
    assert outcome.err == ""
    lines = outcome.out.splitlines()
    assert lines[0].split()[0] == HEADERS[command]
    names = CATALOGUES[command][1]
    assert len(lines) == 1 + len(names)
    assert sorted(line.split()[0] for line in lines[1:]) == names


@pytest.mark.parametrize("command", sorted(CATALOGUES))
def test_catalogue_json_to_stdout_is_a_list_of_dicts(cli, command: str) -> None:
    keys, names = CATALOGUES[command]
    outcome = cli(command, "--json", "-")
    assert outcome.code == 0, outcome
    data = json.loads(outcome.out)
    assert isinstance(data, list)
    assert all(isinstance(row, dict) and keys <= row.keys() for row in data)
    assert sorted(row["name"] for row in data) == names
    assert HEADERS[command] in outcome.err  # the table moved to stderr


@pytest.mark.parametrize("command", sorted(CATALOGUES))
def test_catalogue_json_to_a_file(cli, command: str, tmp_path: Path) -> None:
    target = tmp_path / f"{command}.json"
    outcome = cli(command, "--json", str(target))
    assert outcome.code == 0, outcome
    assert outcome.out.startswith(HEADERS[command])
    assert sorted(row["name"] for row in json.loads(target.read_text())) == CATALOGUES[command][1]


def test_scenarios_json_marks_the_default(cli) -> None:
    data = json.loads(cli("scenarios", "--json", "-").out)
    assert [row["name"] for row in data if row["default"]] == [testbed.DEFAULT_SCENARIO]


def test_faults_json_matches_the_catalogue(cli) -> None:
    data = {row["name"]: row for row in json.loads(cli("faults", "--json", "-").out)}
    for fault in testbed.FAULTS:
        assert data[fault.name]["available"] is fault.available
        assert data[fault.name]["caught_by"] == fault.caught_by
    # every invariant a fault is caught by is a known invariant
    invariants = {row["name"] for row in json.loads(cli("invariants", "--json", "-").out)}
    for row in data.values():
        assert set(row["caught_by"].split(" / ")) <= invariants, row
