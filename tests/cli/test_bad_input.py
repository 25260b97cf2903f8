"""Bad usage or bad input: exit 2, one line ``testbed: error: ...`` naming the
problem, no traceback, and nothing run (DESIGN.md section 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

# (id, argv, words the error line must contain); "{tmp}" is a fresh tmp_path,
# "{file}" an existing regular file in it
CASES = [
    ("unknown-fault-run", ["run", "--fault", "no-such-fault"], ["no-such-fault", "fault"]),
    ("unknown-fault-stress", ["stress", "--fault", "no-such-fault", "--schedules", "1"], ["no-such-fault"]),
    ("unknown-scenario-run", ["run", "--scenario", "no-such-scenario"], ["no-such-scenario", "scenario"]),
    ("unknown-scenario-stress", ["stress", "--scenario", "no-such-scenario", "--schedules", "1"], ["no-such-scenario"]),
    ("all-is-not-a-run-scenario", ["run", "--scenario", "all"], ["'all'", "scenario"]),
    ("unknown-strategy-run", ["run", "--strategy", "no-such-strategy"], ["no-such-strategy", "strategy"]),
    ("unknown-strategy-stress", ["stress", "--strategy", "no-such-strategy", "--schedules", "1"], ["no-such-strategy"]),
    ("duration-not-a-duration", ["stress", "--duration", "abc"], ["--duration", "abc"]),
    ("duration-negative", ["stress", "--duration", "-5s"], ["--duration"]),
    ("duration-negative-attached", ["stress", "--duration=-5s"], ["--duration", "-5s"]),
    ("duration-zero", ["stress", "--duration", "0"], ["--duration", "0"]),
    ("duration-zero-seconds", ["stress", "--duration", "0s"], ["--duration", "0s"]),
    ("duration-and-schedules", ["stress", "--duration", "1s", "--schedules", "2"], ["--duration", "--schedules"]),
    ("mutators-zero", ["run", "--mutators", "0"], ["--mutators", "0"]),
    ("mutators-not-a-number", ["run", "--mutators", "four"], ["--mutators", "four"]),
    ("ops-negative", ["run", "--ops", "-1"], ["--ops"]),
    ("gc-interval-negative", ["run", "--gc-interval", "-1"], ["--gc-interval"]),
    ("store-buffer-capacity-zero", ["run", "--store-buffer-capacity", "0"], ["--store-buffer-capacity"]),
    ("schedules-zero", ["stress", "--schedules", "0"], ["--schedules", "0"]),
    ("jobs-zero", ["stress", "--jobs", "0", "--schedules", "1"], ["--jobs"]),
    ("seed-negative-run", ["run", "--seed", "-1"], ["--seed", "-1"]),
    ("seed-negative-stress", ["stress", "--seed", "-1", "--schedules", "1"], ["--seed", "-1"]),
    ("seed-not-a-number", ["run", "--seed", "x"], ["--seed"]),
    ("json-in-missing-dir-run", ["run", "--json", "/nonexistent/dir/x.json"], ["/nonexistent/dir"]),
    (
        "json-in-missing-dir-stress",
        ["stress", "--schedules", "1", "--json", "/nonexistent/dir/x.json"],
        ["/nonexistent/dir"],
    ),
    ("json-in-missing-dir-catalogue", ["faults", "--json", "/nonexistent/dir/x.json"], ["/nonexistent/dir"]),
    ("json-is-a-directory", ["run", "--json", "{tmp}"], ["{tmp}"]),
    ("json-without-a-value", ["run", "--json"], ["--json"]),
    ("out-is-an-existing-file", ["stress", "--schedules", "1", "--out", "{file}"], ["--out", "{file}"]),
    ("out-parent-missing", ["stress", "--schedules", "1", "--out", "/nonexistent/dir/found"], ["--out"]),
    ("one-bad-fault-among-good", ["run", "--fault", "skip-flush", "--fault", "no-such-fault"], ["no-such-fault"]),
    ("no-subcommand", [], ["command"]),
    ("unknown-subcommand", ["frobnicate"], ["frobnicate"]),
    ("unknown-option-run", ["run", "--no-such-option"], ["--no-such-option"]),
    ("unknown-option-stress", ["stress", "--no-such-option", "--schedules", "1"], ["--no-such-option"]),
    ("stress-option-on-run", ["run", "--schedules", "3"], ["--schedules"]),
    ("catalogue-takes-no-model-options", ["scenarios", "--seed", "1"], ["--seed"]),
    (
        "replay-strategy-without-tape-run",
        ["run", "--strategy", "replay", "--ops", "50"],
        ["replay"],
    ),
    (
        "replay-strategy-without-tape-stress",
        ["stress", "--strategy", "replay", "--schedules", "1", "--ops", "50"],
        ["replay"],
    ),
]


def _params() -> list[object]:
    return [pytest.param(argv, needles, id=name, marks=marks) for name, argv, needles, *marks in CASES]


@pytest.mark.parametrize(("argv", "needles"), _params())
def test_bad_input_is_one_line_exit_2(cli, usage_error, tmp_path: Path, argv: list[str], needles: list[str]) -> None:
    existing = tmp_path / "existing.txt"
    existing.write_text("not a directory\n")

    def fill(text: str) -> str:
        return text.replace("{tmp}", str(tmp_path)).replace("{file}", str(existing))

    usage_error(cli(*map(fill, argv)), *map(fill, needles))
    assert existing.read_text() == "not a directory\n"


def test_no_output_directory_is_left_behind_by_bad_input(cli, usage_error, tmp_path: Path) -> None:
    """``--out`` names a directory that does not exist yet, but another argument is bad."""
    out = tmp_path / "found"
    usage_error(cli("stress", "--fault", "no-such-fault", "--out", str(out), "--schedules", "1"), "no-such-fault")
    assert not out.exists()


def test_negative_duration_error_names_the_value(cli, usage_error) -> None:
    usage_error(cli("stress", "--duration", "-5s"), "-5s")
