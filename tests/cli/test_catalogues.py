"""``testbed scenarios|faults|invariants``: a table, or a list of dicts with ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import testbed
from testbed.cli.catalogues import table_lines

CATALOGUES = {
    "scenarios": ({"name", "description", "aims_at", "default"}, sorted(testbed.SCENARIOS)),
    "faults": (
        {"name", "summary", "bug", "runtime", "caught_by", "available", "where", "scenario"},
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
    rows = [line for line in lines[1:] if not line[:1].isspace()]  # a wrapped cell goes on indented lines
    assert sorted(line.split()[0] for line in rows) == names


@pytest.mark.parametrize("verbose", [(), ("-v",)], ids=["table", "verbose"])
@pytest.mark.parametrize("command", sorted(CATALOGUES))
def test_catalogue_fits_a_100_column_terminal(cli, command: str, verbose: tuple[str, ...]) -> None:
    lines = cli(command, *verbose).out.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    assert not [line for line in lines if line != line.rstrip()]


def test_faults_verbose_shows_the_long_fields_under_each_row(cli) -> None:
    plain, verbose = cli("faults").out, cli("faults", "-v").out
    for fault in testbed.FAULTS:
        assert f"caught by: {fault.caught_by}" in " ".join(verbose.split())
        assert f"caught by: {fault.caught_by}" not in plain
    assert all(f"where: {fault.where}" in verbose for fault in testbed.FAULTS)


def test_faults_table_names_the_runtime_of_each_real_bug(cli) -> None:
    rows = {line.split()[0]: line.split() for line in cli("faults").out.splitlines()[1:] if not line[:1].isspace()}
    for fault in testbed.FAULTS:
        assert rows[fault.name][2] == (fault.runtime or "-"), rows[fault.name]


def test_scenarios_table_marks_the_default(cli) -> None:
    rows = cli("scenarios").out.splitlines()
    assert [row.split()[0] for row in rows if "(default)" in row] == [testbed.DEFAULT_SCENARIO]


def test_a_table_with_a_new_long_column_still_fits() -> None:
    """A catalogue that grows a column (faults' ``runtime``) wraps the last one or moves it under the row."""
    header = ["fault", "provoked by", "runtime", "what goes wrong"]
    rows = [["x" * 40, "layout-and-folding", "node-18-and-electron-13", "word " * 60]]
    lines = table_lines(header, rows, [[("V8 bug", "crbug.com/1 " * 20)]])
    assert max(len(line) for line in lines) <= 100
    assert " ".join(" ".join(lines).split()).count("word") == 60


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
        # a real bug says whose runtime it is from; an invented fault has neither
        assert (data[fault.name]["runtime"] is None) == (fault.bug is None), fault.name
    # every invariant a fault is caught by is a known invariant
    invariants = {row["name"] for row in json.loads(cli("invariants", "--json", "-").out)}
    for row in data.values():
        assert set(row["caught_by"].split(" / ")) <= invariants, row
