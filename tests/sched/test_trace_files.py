"""Trace files (``testbed.trace/4``): strict reading, one-line reasons.

A replay that silently diverged would be worse than none, so a file that is
not a trace of this schema and this testbed version is refused with a
TraceError naming the problem.  The tape is run-length encoded
(``[decision, runnable, thread, repeat]`` runs); ``encode_tape`` and
``decode_tape`` convert.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testbed._version import __version__
from testbed.sched import (
    TRACE_SCHEMA,
    ReplayDivergedError,
    TraceError,
    decode_tape,
    encode_tape,
    load_trace,
    write_trace,
)


def valid_trace() -> dict[str, Any]:
    return {
        "schema": TRACE_SCHEMA,
        "testbed_version": __version__,
        "config": {"scenario": "mixed", "seed": 3, "strategy": "random"},
        "seed": 3,
        "strategy": "random",
        "threads": ["scavenger-0", "mutator-0", "mutator-1"],
        "tape": [[0, 3, 1, 4], [2, 3, 0, 1], [0, 2, 2, 7]],
        "events": [[4, "switch", "mutator-0", "mutator-1 at flag-test"]],
        "violation": {"invariant": "remset-complete", "step": 17, "thread": "mutator-1", "message": "m"},
        "fingerprint": {"model": "0123456789abcdef", "program": None},
    }


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(document))
    return path


def rejected(path: Path, *needles: str) -> str:
    with pytest.raises(TraceError) as info:
        load_trace(path)
    message = str(info.value)
    assert "\n" not in message, "the reason is one line"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def test_schema_name_is_testbed_trace_3() -> None:
    assert TRACE_SCHEMA == "testbed.trace/4"


def test_a_version_1_trace_is_refused_in_one_line_that_says_to_record_it_again(tmp_path: Path) -> None:
    old = valid_trace() | {"schema": "testbed.trace/1", "tape": [0, 2, 1, 0, 5]}
    del old["threads"]
    rejected(write(tmp_path, old), "testbed.trace/1", TRACE_SCHEMA, "record the run again")


def test_tape_encoding_round_trips_and_merges_equal_neighbours() -> None:
    entries = [(0, 3, 1)] * 4 + [(2, 3, 0)] + [(0, 2, 2)] * 7
    runs = encode_tape(entries)
    assert runs == valid_trace()["tape"]
    decisions, expected = decode_tape(runs)
    assert decisions == [0, 0, 0, 0, 2] + [0] * 7
    assert expected == [(3, 1)] * 4 + [(3, 0)] + [(2, 2)] * 7
    assert encode_tape([]) == [] and decode_tape([]) == ([], [])


def test_replay_diverged_error_is_a_trace_error() -> None:
    assert issubclass(ReplayDivergedError, TraceError)


def test_written_trace_loads_back_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    write_trace(path, valid_trace())
    assert load_trace(path) == valid_trace()
    assert load_trace(str(path)) == valid_trace()


def test_trace_without_violation_loads(tmp_path: Path) -> None:
    assert load_trace(write(tmp_path, valid_trace() | {"violation": None}))["violation"] is None


def test_trace_error_is_a_value_error() -> None:
    assert issubclass(TraceError, ValueError)


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path / "absent.json", "cannot read", "absent.json", "No such file")


def test_directory_is_rejected(tmp_path: Path) -> None:
    rejected(tmp_path, "cannot read", str(tmp_path))


def test_non_json_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"schema": "testbed.trace/1", tape: [}')
    rejected(path, "not JSON", "t.json", "line 1")


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("")
    rejected(path, "not JSON")


@pytest.mark.parametrize(
    ("schema", "shown"),
    [("testbed.result/1", "'testbed.result/1'"), ("testbed.trace/5", "'testbed.trace/5'"), (None, "None")],
)
def test_wrong_schema_is_rejected(tmp_path: Path, schema: object, shown: str) -> None:
    document = valid_trace() | {"schema": schema}
    rejected(write(tmp_path, document), f"is not a {TRACE_SCHEMA} trace", f"schema: {shown}")


def test_missing_schema_is_rejected(tmp_path: Path) -> None:
    document = valid_trace()
    del document["schema"]
    rejected(write(tmp_path, document), f"is not a {TRACE_SCHEMA} trace")


@pytest.mark.parametrize("document", [[1, 2, 3], "testbed.trace/3", 7, None])
def test_json_that_is_not_an_object_is_rejected(tmp_path: Path, document: object) -> None:
    rejected(write(tmp_path, document), f"is not a {TRACE_SCHEMA} trace")


@pytest.mark.parametrize(
    "key", ["testbed_version", "config", "seed", "strategy", "threads", "tape", "events", "violation", "fingerprint"]
)
def test_trace_lacking_a_field_is_rejected(tmp_path: Path, key: str) -> None:
    document = valid_trace()
    del document[key]
    rejected(write(tmp_path, document), "lacks", key)


def test_trace_of_another_testbed_version_is_rejected(tmp_path: Path) -> None:
    other = "0.0.1-other"
    assert other != __version__
    message = rejected(write(tmp_path, valid_trace() | {"testbed_version": other}), other, __version__)
    assert "version" in message


@pytest.mark.parametrize(
    "tape",
    [
        [0, 2, 1, 0, 5],
        [[0, 2, 1]],
        [[0, 2, 1, 3, 9]],
        [[0, -2, 1, 3]],
        [[0, 2, 1, 1.0]],
        [[0, 2, True, 1]],
        [[0, 2, 1, "3"]],
        [[0, 2, None, 3]],
        [[0, 1, 0, 3]],
        [[2, 2, 0, 3]],
        [[0, 2, 0, 0]],
        [[0, 2, 3, 1]],
        [[0, 2, 1, 4], 7],
        "0120",
        {"0": 1},
        None,
        3,
    ],
    ids=[
        "version-1-decisions",
        "three-fields",
        "five-fields",
        "negative",
        "float",
        "bool",
        "string-field",
        "null-field",
        "one-runnable",
        "decision-not-below-runnable",
        "zero-repeat",
        "unknown-thread",
        "int-after-a-run",
        "string",
        "object",
        "null",
        "int",
    ],
)
def test_tape_that_is_not_a_list_of_valid_runs_is_rejected(tmp_path: Path, tape: object) -> None:
    message = rejected(write(tmp_path, valid_trace() | {"tape": tape}), "tape")
    assert "run" in message


@pytest.mark.parametrize("threads", [None, "mutator-0", [1, 2], ["mutator-0", None]])
def test_threads_that_are_not_a_list_of_names_are_rejected(tmp_path: Path, threads: object) -> None:
    rejected(write(tmp_path, valid_trace() | {"threads": threads}), "threads", "list of names")


def test_empty_tape_is_valid(tmp_path: Path) -> None:
    assert load_trace(write(tmp_path, valid_trace() | {"tape": []}))["tape"] == []


@pytest.mark.parametrize("violation", [{"invariant": "remset-complete"}, {"step": 3}, "remset-complete", [1]], ids=str)
def test_malformed_violation_record_is_rejected(tmp_path: Path, violation: object) -> None:
    rejected(write(tmp_path, valid_trace() | {"violation": violation}), "violation")


@pytest.mark.parametrize("fingerprint", [None, "0123", ["a"], {"model": 3}, {"model": ["a"]}])
def test_a_fingerprint_that_is_not_an_object_of_hashes_is_rejected(tmp_path: Path, fingerprint: object) -> None:
    document = valid_trace()
    document["fingerprint"] = fingerprint
    rejected(write(tmp_path, document), "fingerprint must be an object of hashes")


def test_a_version_2_trace_is_refused_for_its_missing_fingerprint(tmp_path: Path) -> None:
    document = valid_trace()
    document["schema"] = "testbed.trace/2"
    del document["fingerprint"]
    rejected(write(tmp_path, document), "testbed.trace/2 trace", "no fingerprint", "record the run again")
