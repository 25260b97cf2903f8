"""No false passes (issue 17 part 3): a campaign that ran nothing, or whose event log cannot be written,
says so, and its exit status is what the run found, never a pass it did not earn."""

from __future__ import annotations

import json
import os
import time
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


def _error_line(outcome, *needles: str) -> str:
    """A campaign that ran nothing: exit 2, one line on stderr saying so and why."""
    assert outcome.code == 2, outcome
    lines = outcome.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("testbed: error: nothing ran: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_a_campaign_whose_duration_ends_before_a_schedule_finishes_is_no_pass(cli) -> None:
    outcome = cli("stress", "--duration", "1ms", "--json", "-")
    _error_line(outcome, "the duration (0.001s) ended before the first schedule finished")
    doc = json.loads(outcome.out)  # --json -: stdout is the JSON result, and only it
    assert doc["schedules"] == 0 and doc["violations"] == []
    assert doc["stopped"] == "duration" and doc["nothing_ran"].startswith("the duration")
    # the schedule cut at the deadline was stopped: this process runs the next one at once
    assert cli("run", "--ops", "50").code == 0


def test_a_campaign_over_its_memory_limit_from_the_start_is_no_pass(cli, tmp_path: Path) -> None:
    result = tmp_path / "r.json"
    outcome = cli("stress", "--max-rss", "1", "--schedules", "3", "--json", str(result))
    _error_line(outcome, "the memory limit was already exceeded", "--max-rss 1")
    assert outcome.out == ""
    doc = json.loads(result.read_text())
    assert (doc["schedules"], doc["stopped"]) == (0, "max-rss")
    assert "memory limit" in doc["nothing_ran"]


def test_the_python_api_returns_a_campaign_that_ran_nothing_with_its_reason() -> None:
    import testbed

    result = testbed.stress(duration=0.001)
    assert (result.schedules, result.stopped) == (0, "duration")
    assert result.ok  # no finding, and yet no pass: schedules == 0 says so


SLOW = """\
import time

calls = [0]


def program(m):
    calls[0] += 1
    # the first schedule's mutators finish at once; every later schedule runs for 30 s, polling
    end = time.monotonic() + (0 if calls[0] <= 2 else 30)
    with m.scope():
        while time.monotonic() < end:
            m.alloc(fields=1)
            m.poll()
"""


def test_a_schedule_still_progressing_at_the_deadline_is_cut_and_is_no_violation(cli, tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    program = f"{tmp_path / 'slow.py'}:program"
    started = time.monotonic()
    outcome = cli("stress", "--program", program, "--mutators", "2", "--duration", "1.5s", "--json", "-")
    assert time.monotonic() - started < 10  # not the 30 s of the schedule
    assert outcome.code == 0, outcome
    doc = json.loads(outcome.out)
    assert doc["schedules"] >= 1 and doc["violations"] == []
    [cut] = doc["cut"]
    assert cut["reproduce"].startswith("testbed run --program") and cut["points"] > 0
    assert f"cut at the deadline, still progressing (not a violation): seed {cut['seed']}" in outcome.err
    assert cli("run", "--ops", "50").code == 0  # the cut run was stopped, not left running


SPIN = """\
def program(m):
    with m.scope():
        holder = m.alloc(fields=2, old=True)
        m.store(holder, 0, m.alloc(fields=1))
        if m.index == 0:
            while True:  # spins without m.poll(): the next safepoint waits for it forever
                m.load(holder, 0)
        for _ in range(200):
            m.store(holder, 1, m.alloc(fields=1))
            m.poll()
"""


@pytest.mark.parametrize(("jobs", "duration"), [("1", "2s"), ("2", "5s")])  # worker processes take a while to start
def test_a_schedule_stuck_at_the_deadline_is_a_liveness_finding_and_the_campaign_ends(
    testbed_process, subprocess_env, tmp_path: Path, jobs: str, duration: str
) -> None:
    # Before: `stress --duration 10s` ran 124 s silently (the run's own 120 s timeout).
    (tmp_path / "spin.py").write_text(SPIN)
    started = time.monotonic()
    done = testbed_process(
        subprocess_env,
        tmp_path,
        *("stress", "--program", "spin.py:program", "--gc-interval", "5", "--duration", duration),
        *("--set", "wait_timeout=0.5", "--jobs", jobs, "--json", "r.json", "--progress-interval", "0.5s"),
    )
    assert time.monotonic() - started < 20, done
    assert done.returncode == 1, done
    assert "progress: 0 schedules" in done.stdout  # progress lines came while the schedule ran
    violations = json.loads((tmp_path / "r.json").read_text())["violations"]
    assert violations and {v["invariant"] for v in violations} == {"safepoint-liveness"}
    stacks = violations[0]["stacks"]
    assert any("spin.py" in line and "in program" in line for line in stacks["mutator-0"]), stacks


NO_GC = """\
def program(m):
    with m.scope():
        holder = m.alloc(fields=2, old=True)
        for _ in range(50):
            m.store(holder, 0, m.alloc(fields=1))
            m.poll()
"""


def test_run_of_a_program_that_triggers_no_gc_warns_about_what_it_never_checked(cli, tmp_path: Path) -> None:
    (tmp_path / "nogc.py").write_text(NO_GC)
    program = f"{tmp_path / 'nogc.py'}:program"
    outcome = cli("run", "--program", program)
    assert outcome.code == 0, outcome
    [warning] = [line for line in outcome.out.splitlines() if "warning:" in line]
    assert warning.startswith("  warning: never evaluated in this run: ")
    assert "no-from-space-refs" in warning and "--gc-interval" in warning
    # with scavenges, the checks that need one run: no hint (and the same words as stress's warning)
    outcome = cli("run", "--program", program, "--gc-interval", "10")
    assert outcome.code == 0, outcome
    assert "no-from-space-refs" not in outcome.out and "--gc-interval" not in outcome.out
