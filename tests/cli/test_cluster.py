"""``stress --cluster``: a real Dask scheduler and two workers on loopback, one of them killed mid-campaign.

The cluster is three subprocesses (``python -m distributed.cli.dask_scheduler``
and ``dask_worker --nthreads 1 --no-nanny``, so a killed worker stays dead),
each in its own session; the fixture kills every one of them, pass or fail,
and checks they are gone.  The scheduler runs with
``allowed-failures=0``, so the death of a worker turns its running task
into ``KilledWorker`` at once and the client's resubmission is what is
tested (the scheduler's own rerun of finished results lost with the worker
is exercised too).

A worker with two threads (in this process) shows the task's lock at
work.  The fast tests at the end need no cluster: bad ``--cluster`` input,
an address where nothing listens, and a missing ``distributed`` (the
tests that need it are skipped without it; the test extra installs it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import testbed
from testbed.campaign import cluster as campaign_cluster
from testbed.runtime import ConfigError, derive_seed

#: the cluster tests need the ``distributed`` package (the test extra has it); the bad-input ones do not
needs_distributed = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="needs distributed: pip install 'testbed[cluster]'"
)

#: seconds the cluster may take to come up
STARTUP_TIMEOUT = 30.0
FAULT = "unlocked-remset-insert"
SCENARIO = "store-buffer-storm"
SCHEDULES = 40
#: the schedule after whose result one worker is killed
KILL_AFTER = 8


class Cluster:
    """Scheduler and worker subprocesses on loopback."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.address = ""

    def _start(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"process-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", *argv],
            env=env or self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def start(self, workers: int) -> None:
        scheduler_file = self.tmp / "scheduler.json"
        env = {**self.env, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
        self._start(
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(_free_port()),
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
            env=env,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, self.logs()
            assert self.processes[0].poll() is None, self.logs()
            time.sleep(0.1)
        time.sleep(0.1)  # the file is written in one go, but give it a moment
        self.address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(workers):
            self.workers.append(
                self._start(
                    "distributed.cli.dask_worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                )
            )
        import distributed

        with distributed.Client(self.address, timeout=STARTUP_TIMEOUT, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=STARTUP_TIMEOUT)

    def kill_worker(self) -> None:
        worker = self.workers.pop()
        worker.kill()

    def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.processes:
            process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-2000:] for path in sorted(self.tmp.glob("process-*.log")))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = str(Path(testbed.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    running = Cluster(tmp_path_factory.mktemp("dask"), env)
    try:
        running.start(workers=2)
        yield running
    finally:
        running.stop()
        alive = [p.pid for p in running.processes if p.poll() is None]
        assert not alive, f"cluster processes left running: {alive}"


def _campaign(schedules: int = SCHEDULES, **where: Any) -> tuple[testbed.StressResult, list[int]]:
    seeds: list[int] = []
    result = testbed.stress(
        [SCENARIO],
        strategy="random",
        faults=[FAULT],
        overrides={"ops": 300},
        schedules=schedules,
        seed=3,
        on_result=lambda _, outcome: seeds.append(outcome.config.seed),
        **where,
    )
    return result, seeds


def _findings(result: testbed.StressResult) -> list[tuple[Any, ...]]:
    return [
        (f.seed, f.violation.invariant, f.violation.step, f.violation.message, f.bucket, f.reproduce)
        for f in result.findings
    ]


#: stats that depend on the machine and the process a schedule ran in (a Dask worker has more threads)
#: besides every duration (``*_s``: wall, pause, zap and verify seconds)
_MACHINE_STATS = ("process_peak_rss_mb", "campaign_peak_rss_mb", "peak_os_threads")


def _local_json(document: dict[str, Any]) -> dict[str, Any]:
    """A stress JSON result without what depends on the machine (time, memory)."""
    stats = {k: v for k, v in document["stats"].items() if k not in _MACHINE_STATS and not k.endswith("_s")}
    return {**document, "stats": stats}


@needs_distributed
@pytest.mark.timeout(120)
def test_a_cluster_campaign_prints_the_same_json_as_a_local_one_and_writes_the_traces(
    cluster: Cluster, tmp_path: Path, testbed_process: Any, subprocess_env: dict[str, str]
) -> None:
    common = ["stress", "--scenario", SCENARIO, "--fault", FAULT, "--ops", "300", "--strategy", "random"]
    common += ["--schedules", "12", "--seed", "5", "--json", "-", "--quiet"]
    local = testbed_process(subprocess_env, tmp_path, *common, "--out", "local")
    remote = testbed_process(subprocess_env, tmp_path, *common, "--out", "remote", "--cluster", cluster.address)
    assert (remote.returncode, local.returncode) == (1, 1), remote.stderr + cluster.logs()
    here, there = json.loads(local.stdout), json.loads(remote.stdout)
    assert there["schedules"] == 12
    # the same document but for the directory named in the trace paths
    assert json.dumps(_local_json(there)).replace("remote/", "local/") == json.dumps(_local_json(here))
    kept = sorted(p.name for p in (tmp_path / "remote").iterdir())
    assert kept == sorted(p.name for p in (tmp_path / "local").iterdir()) and "index.json" in kept


@needs_distributed
@pytest.mark.timeout(120)
def test_a_stopped_cluster_campaign_records_what_ran_in_order_and_leaves_nothing_queued(cluster: Cluster) -> None:
    enough = 6
    result, seeds = _campaign(cluster=cluster.address, monitor=lambda r: "enough" if r.schedules >= enough else None)
    assert result.stopped == "enough"
    # what ran before the stop is recorded (the schedules running finish, the ones done wait for no more);
    # nothing is submitted afterwards
    tasks = campaign_cluster.IN_FLIGHT_PER_THREAD * campaign_cluster.WINDOW * len(cluster.workers)
    window = tasks * campaign_cluster.MAX_BATCH
    assert enough <= result.schedules <= enough + window, seeds
    expected = [derive_seed(3, 2, i) % 2**32 for i in range(SCHEDULES)]
    assert seeds[:enough] == expected[:enough]
    assert seeds == [seed for seed in expected if seed in seeds]  # in schedule order
    import distributed

    with distributed.Client(cluster.address, timeout=10, set_as_default=False) as client:
        assert not client.processing() or not any(client.processing().values())


@needs_distributed
@pytest.mark.timeout(180)
def test_a_worker_killed_mid_campaign_loses_no_schedule_and_no_finding(cluster: Cluster) -> None:
    local, local_seeds = _campaign()
    recorded: list[int] = []

    def kill_one(result: testbed.StressResult, outcome: testbed.RunResult) -> None:
        recorded.append(outcome.config.seed)
        if len(recorded) == KILL_AFTER:
            cluster.kill_worker()

    result = testbed.stress(
        [SCENARIO],
        strategy="random",
        faults=[FAULT],
        overrides={"ops": 300},
        schedules=SCHEDULES,
        seed=3,
        on_result=kill_one,
        cluster=cluster.address,
    )
    assert result.stopped is None, f"{result.stopped}\n{cluster.logs()}"
    assert len(cluster.workers) == 1 and all(w.poll() is None for w in cluster.workers)
    # every schedule index ran exactly once, in schedule order: the seeds of schedules 0..N-1
    assert recorded == local_seeds == [derive_seed(3, 2, i) % 2**32 for i in range(SCHEDULES)]
    assert result.schedules == SCHEDULES
    assert _findings(result) == _findings(local) and result.findings
    assert result.stats["points"] == local.stats["points"]
    assert [b.to_json() for b in result.buckets] == [b.to_json() for b in local.buckets]


@needs_distributed
@pytest.mark.timeout(60)
def test_a_cluster_campaign_with_a_duration_ends_close_to_it(cluster: Cluster) -> None:
    # batches grow to about BATCH_SECONDS of schedules, and shrink as the end nears; the
    # margin is for the schedules running at the end (a few take a second or more)
    result = testbed.stress(
        [SCENARIO], strategy="random", overrides={"ops": 300}, duration=3.0, cluster=cluster.address
    )
    assert result.stopped is None and result.schedules > 2 * len(cluster.workers)
    assert result.wall_s < 3.0 + 4 * campaign_cluster.BATCH_SECONDS, result.wall_s


@needs_distributed
@pytest.mark.timeout(60)
def test_a_worker_with_two_threads_runs_one_schedule_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import distributed

    monkeypatch.setattr(campaign_cluster, "_claimed_cpu", lambda: None)  # this process keeps no CPU claim
    schedules = 8
    local, local_seeds = _campaign(schedules=schedules)
    # a worker in this very process, two threads: without the lock, two runs at once raise "already active"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0", protocol="tcp", host="127.0.0.1"
    ) as threads:
        result, seeds = _campaign(schedules=schedules, cluster=threads.scheduler_address)
    assert seeds == local_seeds and _findings(result) == _findings(local)


# -- no cluster needed ------------------------------------------------------------------


def test_a_cluster_address_that_is_not_one_is_a_usage_error(cli: Any, usage_error: Any) -> None:
    usage_error(cli("stress", "--schedules", "2", "--cluster", "localhost:8786"), "--cluster", "tcp://HOST:PORT")
    usage_error(cli("stress", "--schedules", "2", "--cluster", "tcp://a:1", "--jobs", "2"), "--jobs")
    with pytest.raises(ConfigError, match="cluster"):
        testbed.stress(schedules=2, cluster="8786")


@needs_distributed
@pytest.mark.timeout(30)
def test_an_address_where_no_scheduler_listens_is_a_usage_error_within_the_connect_timeout(
    cli: Any, usage_error: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(campaign_cluster, "CONNECT_TIMEOUT", 2.0)
    started = time.monotonic()
    result = tmp_path / "r.json"
    outcome = cli("stress", "--schedules", "2", "--json", str(result), "--cluster", f"tcp://127.0.0.1:{_free_port()}")
    usage_error(outcome, "no Dask scheduler answered")
    assert time.monotonic() - started < 15
    assert not result.exists()  # bad input writes nothing


def test_without_distributed_cluster_says_how_to_install_it(
    cli: Any, usage_error: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    usage_error(
        cli("stress", "--schedules", "2", "--cluster", "tcp://127.0.0.1:8786"), "pip install 'testbed[cluster]'"
    )
    local = cli("stress", "--schedules", "1", "--jobs", "1", "--quiet")  # --jobs needs nothing extra
    assert local.code == 0, local.err
