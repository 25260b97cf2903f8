"""Stopping a campaign from outside (issue 12 item 4): SIGTERM and SIGINT stop it cleanly, SIGKILL leaves no orphan.

Real processes: ``python -m testbed stress`` is started, signalled once it
runs, and its process tree is checked with psutil.  A clean stop prints the
summary, writes the JSON result with everything found, and leaves none of
its processes (the forkserver, the resource tracker, the workers) alive.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.cli._campaign import FAULTY

#: seconds to wait for a campaign to get going, and for a stopped one to end
PATIENCE = 30.0


def _start(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "testbed", "stress", "--duration", "60s", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=(cwd / "out.txt").open("w"),
        stderr=(cwd / "err.txt").open("w"),
        text=True,
        start_new_session=True,  # its own process group, as a CI job's
    )


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {PATIENCE:g}s for {what}")
        time.sleep(0.1)


def _descendants(process: subprocess.Popen[str]) -> list[psutil.Process]:
    try:
        return psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _with_workers(process: subprocess.Popen[str], jobs: int) -> list[psutil.Process]:
    """The campaign's processes once its workers run: the forkserver, the resource tracker, ``jobs`` workers."""
    _wait_for(lambda: len(_descendants(process)) >= jobs + 2, f"{jobs} worker processes")
    return _descendants(process)


def _end(process: subprocess.Popen[str]) -> int:
    try:
        return process.wait(timeout=PATIENCE)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"the campaign did not end within {PATIENCE:g}s of its signal")


def _left_alive(processes: list[psutil.Process]) -> list[str]:
    _, alive = psutil.wait_procs(processes, timeout=10)
    for process in alive:  # do not leak them into the rest of the suite
        process.kill()
    return [f"{p.pid} {p.name()}" for p in alive]


@pytest.mark.parametrize("group", [False, True], ids=["the-process", "its-process-group"])
def test_sigterm_stops_a_jobs_2_campaign_with_its_summary_json_and_no_process_left(
    subprocess_env, tmp_path: Path, group: bool
) -> None:
    """``timeout(1)`` signals the campaign process; a CI runner often its whole process group
    (the forkserver and the workers too, which leave the stop to the campaign process)."""
    campaign = _start(subprocess_env, tmp_path, *FAULTY, "--jobs", "2", "--json", "r.json")
    children = _with_workers(campaign, 2)
    time.sleep(1.0)  # a few schedules (each fails)
    stopped_at = time.monotonic()
    if group:
        os.killpg(campaign.pid, signal.SIGTERM)
    else:
        campaign.send_signal(signal.SIGTERM)
    code = _end(campaign)
    assert time.monotonic() - stopped_at < 15, "the stop was not prompt"
    out, err = (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()
    assert code == 1, out + err
    assert "Traceback" not in err
    assert "(stopped: SIGTERM)" in out and "buckets (" in out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["stopped"] == "SIGTERM" and doc["complete"] is True
    assert doc["violations"] and doc["buckets"]
    assert int(re.search(r"(\d+) schedules in", out).group(1)) == doc["schedules"]
    assert _left_alive(children) == []


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_before_any_finding_exits_128_plus_its_number_with_the_summary(
    subprocess_env, tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    events = tmp_path / "events.jsonl"
    campaign = _start(subprocess_env, tmp_path, "--ops", "200", "--json", "r.json", "--log-json", str(events))
    _wait_for(lambda: events.exists() and events.stat().st_size > 0, "the first schedule")
    campaign.send_signal(signum)
    code = _end(campaign)
    out = (tmp_path / "out.txt").read_text()
    assert code == status, out + (tmp_path / "err.txt").read_text()
    assert f"(stopped: {signum.name})" in out and "no violations" in out
    assert json.loads((tmp_path / "r.json").read_text())["stopped"] == signum.name
    assert json.loads(events.read_text().splitlines()[-1])["record"]["extra"]["event"] == "summary"


def test_a_killed_campaign_leaves_no_worker_behind(subprocess_env, tmp_path: Path) -> None:
    """SIGKILL cannot be handled: the workers notice their campaign is gone and exit, and with them
    the forkserver and the resource tracker."""
    campaign = _start(subprocess_env, tmp_path, *FAULTY, "--jobs", "2")
    children = _with_workers(campaign, 2)
    campaign.kill()
    campaign.wait(timeout=PATIENCE)
    assert _left_alive(children) == []


def test_verbose_logs_come_from_the_worker_processes_too(testbed_process, subprocess_env) -> None:
    done = testbed_process(subprocess_env, None, "stress", "--jobs", "2", "--schedules", "4", "--ops", "200", "-vv")
    assert done.returncode == 0, done.stderr
    workers = set(re.findall(r"^\S+ DEBUG +\[(\d+)\] pause \d+", done.stderr, re.M))
    assert workers, done.stderr  # each line names the worker process that logged it
