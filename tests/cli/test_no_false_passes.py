"""No false passes (issue 17 part 3): a campaign that ran nothing, or whose event log cannot be written,
says so, and its exit status is what the run found, never a pass it did not earn."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FULL = "/dev/full"


@pytest.mark.skipif(not os.path.exists(FULL), reason="needs /dev/full")
def test_an_unwritable_log_json_is_one_warning_and_the_exit_status_stays_the_runs(cli) -> None:
    outcome = cli("stress", "--schedules", "1", "--ops", "200", "--log-json", FULL, "--json", "-")
    assert outcome.code == 0, outcome
    assert json.loads(outcome.out)["schedules"] == 1  # stdout is still the pure JSON result
    warnings = [line for line in outcome.err.splitlines() if "--log-json" in line]
    assert warnings == [
        f"testbed: warning: cannot write --log-json {FULL!r} (No space left on device); the campaign goes on without it"
    ]
    assert "Traceback" not in outcome.err and "Logging error" not in outcome.err
