"""Campaign throughput: schedules/s with one and two worker processes, and through a two-worker Dask cluster.

    PYTHONPATH=. python bench/campaign.py [--seconds 60]

Measures, in one run, the same campaign (``testbed stress --scenario all
--strategy random``, seed 0) for ``--seconds`` seconds each (default 60),
one after the other:

1. ``--jobs 1``: schedules in this process;
2. ``--jobs 2``: two forkserver worker processes
   (:mod:`testbed.campaign.processes`);
3. ``--cluster``: a local Dask cluster that the bench starts and stops, a
   scheduler and ``dask worker --nthreads 1 --nworkers 2`` with the
   README's worker settings (:data:`WORKER_SETTINGS`), on loopback (:mod:`testbed.campaign.cluster`); its
   start-up is not timed, connecting the client is.

Each rate is ``schedules / wall_s`` of the campaign's own result, so the
rates include what a user waits for (starting the worker processes,
connecting, draining the last schedules).  The last line is
machine-readable::

    jobs2_vs_jobs1=<float> dask2_vs_jobs2=<float>

Targets (issue 12): at least 1.7 on two idle cores, and at least 0.9.
On a loaded machine (other processes on the cores) both fall; the table
shows the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import testbed
import testbed.scenarios

#: seconds the Dask cluster may take to start
STARTUP_TIMEOUT = 60.0
#: ``--scenario all``, round robin
SCENARIOS = tuple(testbed.scenarios.SCENARIOS)
SCHEDULER = (sys.executable, "-m", "distributed.cli.dask_scheduler", "--no-dashboard")
WORKER = (sys.executable, "-m", "distributed.cli.dask_worker", "--no-dashboard")
STRATEGY = "random"
#: the worker settings the README recommends: no sampling profiler, a slower tick and system monitor
WORKER_SETTINGS = {
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "5s",
}


def campaign(seconds: float, **where: object) -> tuple[int, float]:
    """(schedules, wall seconds) of one campaign."""
    result = testbed.stress(list(SCENARIOS), strategy=STRATEGY, seed=0, duration=seconds, **where)  # type: ignore[arg-type]
    assert result.stopped is None, result.stopped
    return result.schedules, result.wall_s


@contextlib.contextmanager
def dask_cluster(workers: int) -> Iterator[str]:
    """A scheduler and ``workers`` one-thread worker processes on loopback; yields the address."""
    import distributed

    env = dict(os.environ, **WORKER_SETTINGS)
    root = str(Path(testbed.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory() as tmp:
        scheduler_file = Path(tmp) / "scheduler.json"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        common = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
        processes = [
            subprocess.Popen(
                [*SCHEDULER, "--host", "127.0.0.1", "--port", str(port), "--scheduler-file", str(scheduler_file)],
                **common,  # type: ignore[call-overload]
            )
        ]
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not scheduler_file.exists() or not scheduler_file.read_text().strip():
                if time.monotonic() > deadline or processes[0].poll() is not None:
                    raise RuntimeError("the Dask scheduler did not start")
                time.sleep(0.1)
            address = json.loads(scheduler_file.read_text())["address"]
            processes.append(
                subprocess.Popen(
                    [*WORKER, address, "--nthreads", "1", "--nworkers", str(workers), "--host", "127.0.0.1"],
                    **common,  # type: ignore[call-overload]
                )
            )
            with distributed.Client(address, timeout=STARTUP_TIMEOUT, set_as_default=False) as client:
                client.wait_for_workers(workers, timeout=STARTUP_TIMEOUT)
            yield address
        finally:
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each campaign (default 60)")
    seconds = parser.parse_args().seconds
    load_before = os.getloadavg()
    rates: dict[str, float] = {}
    for label, where in (("jobs 1", {"jobs": 1}), ("jobs 2", {"jobs": 2})):
        schedules, wall = campaign(seconds, **where)
        rates[label] = schedules / wall
        print(f"{label:<14} {schedules:6d} schedules in {wall:6.1f}s  {rates[label]:7.2f} schedules/s", flush=True)
    with dask_cluster(2) as address:
        schedules, wall = campaign(seconds, cluster=address)
    rates["dask 2 workers"] = schedules / wall
    print(
        f"{'dask 2 workers':<14} {schedules:6d} schedules in {wall:6.1f}s  {rates['dask 2 workers']:7.2f} schedules/s"
    )
    load_after = os.getloadavg()
    print(
        f"cores {os.cpu_count()}, load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
        f"campaign: --scenario all --strategy {STRATEGY}, {seconds:g}s each"
    )
    print(
        f"jobs2_vs_jobs1={rates['jobs 2'] / rates['jobs 1']:.3f} "
        f"dask2_vs_jobs2={rates['dask 2 workers'] / rates['jobs 2']:.3f}"
    )


if __name__ == "__main__":
    main()
