"""Schedules on a Dask distributed cluster (``stress --cluster tcp://HOST:PORT``), for when one machine is not enough.

The client side has the shape of :func:`testbed.campaign.processes.run_in_processes`:
it submits ``runner(schedule(i))`` to the cluster's scheduler, keeps
two tasks per worker thread submitted and not yet done (and a few
more done, waiting for a slower earlier one), and records the results in
schedule order, so a cluster campaign has the same seeds, the same results
and the same JSON as a local one with the same schedule count.  Results
(traces included) come back to the client, which writes ``--out``.

A task runs a *batch* of consecutive schedules: each task costs the
scheduler, the client and the worker's event loop a few milliseconds of
CPU on the cores the runs use, so the batch grows until a task lasts
about :data:`BATCH_SECONDS` (measured from the batches done; the first
has one schedule).  Batching never changes which config a schedule index
runs, only how many travel together.

``distributed`` is an optional extra (``pip install 'testbed[cluster]'``):
it is imported only here, only when a cluster is asked for.

A testbed run is process-wide (one active run per process,
:func:`testbed.sched.running`), so a worker process must run one schedule
at a time.  Start workers with ``dask worker --nthreads 1 --nworkers N``;
a worker with more threads is still safe, because the task function holds
a process-wide lock around the run (its extra threads only wait).

Lost workers: the Dask scheduler reruns the tasks of a dead worker
elsewhere; a task it gives up on (``KilledWorker``, after
``distributed.scheduler.allowed-failures`` deaths) is resubmitted here
under a new key, at most :data:`RESUBMITS` times, after which the campaign
stops cleanly (:class:`ClusterLost`) keeping everything found.  So a lost
worker loses no schedule and no finding.

Stopping (``watch()`` says so: a signal, ``--max-rss``): nothing more is
submitted, and a per-campaign Dask ``Event`` is set that every task checks
(under the lock) before its first schedule and then at most every
:data:`TICK` seconds between schedules: a task not yet started returns at
once without running, a running one ends after its current schedule, what
ran is recorded (at most :data:`DRAIN_TIMEOUT` seconds), and whatever is
left is cancelled.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from testbed.runtime import ConfigError

__all__ = [
    "CONNECT_TIMEOUT",
    "DRAIN_TIMEOUT",
    "INSTALL_HINT",
    "NO_WORKER_TIMEOUT",
    "RESUBMITS",
    "TICK",
    "ClusterLost",
    "require_distributed",
    "run_on_cluster",
    "validate_address",
]

#: seconds between ``watch()`` calls while the campaign waits for the cluster
TICK = 0.5
#: seconds a stopped campaign waits for the schedules that are running before it cancels them
DRAIN_TIMEOUT = 30.0
#: seconds to reach the scheduler before ``--cluster`` is bad input
CONNECT_TIMEOUT = 10.0
#: seconds the campaign waits with no worker at all (at the start, or after losing them all) before it stops
NO_WORKER_TIMEOUT = 60.0
#: times one schedule is resubmitted after Dask gave up on it (``KilledWorker``)
RESUBMITS = 3
#: tasks submitted and not yet done, per worker thread
IN_FLIGHT_PER_THREAD = 2
#: done tasks may wait for an earlier, slower one to be recorded in order: at most this many times more
WINDOW = 4
#: seconds a task (a batch of schedules) should last
BATCH_SECONDS = 1.0
#: schedules per task at most
MAX_BATCH = 64

INSTALL_HINT = "pip install 'testbed[cluster]'"

_ADDRESS = re.compile(r"(tcp|tls)://[^\s/:]+:\d{1,5}")


class ClusterLost(RuntimeError):
    """The cluster cannot run the campaign any more (a schedule lost too often, no worker, no scheduler)."""


def validate_address(address: object, name: str = "cluster") -> str:
    """``address`` if it is a scheduler address ``tcp://HOST:PORT`` (or ``tls://``); else ConfigError naming ``name``."""
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        raise ConfigError(f"{name} must be a Dask scheduler address tcp://HOST:PORT, got {address!r}")
    return address


def require_distributed(name: str = "cluster") -> Any:
    """The ``distributed`` module, or a ConfigError (naming ``name``) that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"{name} needs the Dask distributed package: {INSTALL_HINT}") from None
    return distributed


def run_on_cluster(
    address: str,
    runner: Callable[[Any], Any],
    schedule: Callable[[int], Any],
    budget_left: Callable[[int], bool],
    record: Callable[[Any], None],
    watch: Callable[[], bool],
    log_level: str | None = None,
    ends_at: float | None = None,
) -> None:
    """Run ``runner(schedule(i))`` on the cluster at ``address``; record in schedule order.

    ``watch()`` is called at least every :data:`TICK` seconds.  ``ends_at``
    (``time.monotonic()``) is when a campaign with a duration ends: batches
    shrink as it nears, so the last ones end close to it.  Raises
    ConfigError when no scheduler answers within :data:`CONNECT_TIMEOUT`
    seconds (nothing has run then), :class:`ClusterLost` when the cluster
    stops being able to run schedules.  Every future of the campaign is
    released and the client closed when this returns or raises.
    """
    distributed = require_distributed()
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ConfigError(f"cluster {address}: no Dask scheduler answered ({error})") from None
    campaign = _ClusterCampaign(distributed, client, address, runner, schedule, budget_left, log_level, ends_at)
    try:
        campaign.run(record, watch)
    finally:
        campaign.close()


class _ClusterCampaign:
    """The batches of one campaign on a cluster: submitted in schedule order, recorded in it."""

    def __init__(
        self,
        distributed: Any,
        client: Any,
        address: str,
        runner: Callable[[Any], Any],
        schedule: Callable[[int], Any],
        budget_left: Callable[[int], bool],
        log_level: str | None,
        ends_at: float | None,
    ) -> None:
        self.distributed = distributed
        self.client = client
        self.address = address
        self.runner = runner
        self.schedule = schedule
        self.budget_left = budget_left
        self.log_level = log_level
        self.ends_at = ends_at
        self.campaign = uuid.uuid4().hex[:12]
        self.stop_name = f"testbed-stop-{self.campaign}"
        self.stop = distributed.Event(self.stop_name, client=client)
        #: [first index, attempt, configs, future], in schedule order: done ones wait here until those before them are
        self.in_flight: list[list[Any]] = []
        #: set by every future as it completes (in the client's event loop thread).
        #: A plain threading.Event: this is the campaign's plumbing, outside any run
        #: (testbed.sched primitives are for the model's threads), and every wait on
        #: it is bounded by TICK.
        self.wake = threading.Event()
        #: schedules recorded and the worker seconds they took (for the batch size)
        self.ran = [0, 0.0]
        #: the next schedule to submit; once stopping, when to give up on the running ones
        self.index = 0
        self.deadline: float | None = None

    def submit(self, first: int, attempt: int, configs: list[Any]) -> list[Any]:
        future = self.client.submit(
            _run_batch,
            self.runner,
            configs,
            self.stop_name,
            self.log_level,
            key=f"testbed-{self.campaign}-{first}-{attempt}",
            pure=False,
        )
        future.add_done_callback(lambda _: self.wake.set())
        return [first, attempt, configs, future]

    def batch(self, first: int) -> list[Any]:
        """The configs of the next batch: about :data:`BATCH_SECONDS` of work, less as ``ends_at`` nears."""
        size = 1
        if self.ran[0]:
            each = max(self.ran[1], 1e-3) / self.ran[0]
            seconds = BATCH_SECONDS
            if self.ends_at is not None:  # this batch waits behind the ones submitted before it
                seconds = min(seconds, (self.ends_at - time.monotonic()) / IN_FLIGHT_PER_THREAD)
            size = round(seconds / each)
        configs = []
        while len(configs) < max(1, min(size, MAX_BATCH)) and self.budget_left(first + len(configs)):
            configs.append(self.schedule(first + len(configs)))
        return configs

    def fill(self, threads: int) -> None:
        """Submit batches while the cluster's threads have room and the budget lasts."""
        limit = IN_FLIGHT_PER_THREAD * max(threads, 1)
        while (
            self.deadline is None
            and sum(not entry[3].done() for entry in self.in_flight) < limit
            and len(self.in_flight) < WINDOW * limit
            and self.budget_left(self.index)
        ):
            configs = self.batch(self.index)
            self.in_flight.append(self.submit(self.index, 0, configs))
            self.index += len(configs)

    def resubmit_lost(self) -> None:
        """A batch lost with its worker is resubmitted where it is in the order."""
        for entry in self.in_flight:
            if self.deadline is None and _lost(self.distributed, entry[3]):
                if entry[1] >= RESUBMITS:
                    raise ClusterLost(f"schedule {entry[0]} lost {entry[1] + 1} times with its worker; stopping")
                what = (
                    f"schedule {entry[0]}"
                    if len(entry[2]) == 1
                    else f"schedules {entry[0]}-{entry[0] + len(entry[2]) - 1}"
                )
                _log(f"{what}: their worker died; resubmitting (attempt {entry[1] + 2})")
                entry[:] = self.submit(entry[0], entry[1] + 1, entry[2])

    def record_done(self, record: Callable[[Any], None]) -> None:
        """Record the done batches at the head of the order (the others wait for those before them)."""
        while self.in_flight and self.in_flight[0][3].done():
            if self.deadline is None and _lost(self.distributed, self.in_flight[0][3]):
                break  # lost since the scan above: resubmitted by the next one
            outcome = _outcome(self.distributed, self.in_flight.pop(0)[3])
            if outcome is _LOST:  # lost after the stop: it never ran to the end
                continue
            results, seconds = outcome
            self.ran[0] += len(results)
            self.ran[1] += seconds
            for result in results:  # a batch stopped early ran only its first schedules
                record(result)

    def run(self, record: Callable[[Any], None], watch: Callable[[], bool]) -> None:
        threads = _await_threads(self.client, watch)
        last_worker = recount = time.monotonic()
        while True:
            self.wake.clear()  # before looking: a future completing from here on wakes the wait below
            self.fill(threads)
            if not self.in_flight:
                return
            self.resubmit_lost()
            self.record_done(record)
            if self.in_flight and not self.in_flight[0][3].done():
                self.wake.wait(TICK)
            if time.monotonic() >= recount:  # a round trip to the scheduler: once a tick at most
                threads, recount = _threads(self.client), time.monotonic() + TICK
            if self.client.status in ("closing", "closed"):
                raise ClusterLost(f"lost the Dask scheduler at {self.address}")
            if threads:
                last_worker = time.monotonic()
            elif time.monotonic() - last_worker > NO_WORKER_TIMEOUT:
                raise ClusterLost(f"no Dask worker at {self.address} for {NO_WORKER_TIMEOUT:.0f}s")
            if self.deadline is None and watch():
                self.deadline = time.monotonic() + DRAIN_TIMEOUT
                with contextlib.suppress(Exception):
                    self.stop.set()  # tasks not started run nothing; the running ones end after their schedule
            if self.deadline is not None and time.monotonic() > self.deadline:
                return  # the schedules still running are cancelled by close()

    def close(self) -> None:
        """Release every future of the campaign, clear its stop event and close the client."""
        with contextlib.suppress(Exception):
            self.client.cancel([entry[3] for entry in self.in_flight])
        self.in_flight.clear()
        with contextlib.suppress(Exception):
            self.stop.clear()
        with contextlib.suppress(Exception):
            self.client.close(timeout=CONNECT_TIMEOUT)


_LOST = object()


def _lost(distributed: Any, future: Any) -> bool:
    """Whether a future is done without a result because its workers died (its result is not fetched)."""
    if future.cancelled():
        return True
    return future.status == "error" and isinstance(future.exception(), distributed.KilledWorker)


def _outcome(distributed: Any, future: Any) -> Any:
    """A done future's result, or ``_LOST`` (its workers died, or the scheduler dropped it); other errors raise."""
    if future.cancelled():
        return _LOST
    try:
        return future.result()
    except distributed.KilledWorker:
        return _LOST


def _threads(client: Any) -> int:
    """Worker threads the cluster has now (workers come and go)."""
    return sum(client.nthreads().values())


def _await_threads(client: Any, watch: Callable[[], bool]) -> int:
    """The cluster's worker threads, once it has a worker; watch() keeps being called meanwhile."""
    deadline = time.monotonic() + NO_WORKER_TIMEOUT
    while True:
        with contextlib.suppress(TimeoutError, OSError):
            client.wait_for_workers(1, timeout=TICK)
        threads = _threads(client)
        if threads or watch():
            return threads
        if time.monotonic() > deadline:
            raise ClusterLost(f"no Dask worker joined the scheduler within {NO_WORKER_TIMEOUT:.0f}s")


def _log(message: str) -> None:
    from loguru import logger

    logger.warning(message)


# -- on the workers -------------------------------------------------------------------

#: one run at a time per process: a run is process-wide (``testbed.sched.running``).
#: A plain threading.Lock, taken outside any run: a testbed.sched Lock would park
#: with the idle scheduler's wait timeout and fail while another schedule runs longer.
_RUN_LOCK = threading.Lock()
_logging_level: list[str | None] = [None]


def _run_batch(
    runner: Callable[[Any], Any], configs: list[Any], stop_name: str, log_level: str | None
) -> tuple[list[Any], float]:
    """The task: ``runner(config)`` for each config, one run per worker process at a time.

    Returns the results of the schedules it ran (the first ones; none once
    the campaign stopped) and the seconds they took.
    """
    import distributed

    results: list[Any] = []
    started = time.monotonic()
    with _RUN_LOCK:
        stop = distributed.Event(stop_name)
        checked = None
        for config in configs:
            if checked is None or time.monotonic() - checked >= TICK:  # a round trip to the scheduler
                if stop.is_set():
                    break
                checked = time.monotonic()
            results.append(_run_one(runner, config, log_level))
    return results, time.monotonic() - started


def _run_one(runner: Callable[[Any], Any], config: Any, log_level: str | None) -> Any:
    """``runner(config)`` as a local campaign runs it: driven from a thread named MainThread, pinned alone."""
    if log_level is not None and _logging_level[0] != log_level:
        _setup_logging(log_level)
    # A run's end-of-run checks name the thread that drives it (a violation's
    # ``thread``, its bucket's roles): a local campaign drives runs from the main
    # thread, and so must a Dask thread, or the JSON and the buckets would differ.
    driver = threading.current_thread()
    name, driver.name = driver.name, "MainThread"
    mask = None
    if getattr(config, "strategy", "free") != "free":  # a free run's threads keep every CPU
        cpu = _claimed_cpu()
        if cpu is not None:  # a controlled run pins itself to one CPU of this thread's mask: this one
            with contextlib.suppress(OSError):
                mask = os.sched_getaffinity(0)
                os.sched_setaffinity(0, {cpu})
    try:
        return runner(config)
    finally:
        driver.name = name
        if mask is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, mask)


#: this process's CPU, claimed once: (cpu or None,) and the open lock file that holds the claim
_cpu_claim: list[Any] = []


def _claimed_cpu() -> int | None:
    """A CPU no other worker process on this machine has claimed, held for this process's life; None if none is free.

    A controlled run pins itself to CPU ``pid % cpus`` of its mask, which
    spreads the consecutive pids of a process pool; Dask's worker processes
    (started by nannies) often have pids of the same parity, and two of them
    pinned to one CPU run at half speed.  Each worker process takes an
    exclusive ``flock`` on a per-CPU file instead; the kernel drops it when
    the process dies.  Only speed depends on it, never a decision.
    """
    if _cpu_claim:
        return _cpu_claim[0]
    cpu = None
    if hasattr(os, "sched_getaffinity"):
        import fcntl
        import tempfile

        cpus = sorted(os.sched_getaffinity(0))
        start = os.getpid() % len(cpus)
        for candidate in cpus[start:] + cpus[:start]:
            try:
                handle = open(os.path.join(tempfile.gettempdir(), f"testbed-cpu-{candidate}.lock"), "a")  # noqa: SIM115
            except OSError:
                continue
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            cpu = candidate
            _cpu_claim.append(handle)
            break
    _cpu_claim.insert(0, cpu)
    return cpu


def _setup_logging(log_level: str) -> None:
    from loguru import logger

    logger.enable("testbed")
    logger.remove()
    logger.add(sys.stderr, level=log_level, format="{time:HH:mm:ss.SSS} {level: <7} [{process}] {message}")
    _logging_level[0] = log_level
