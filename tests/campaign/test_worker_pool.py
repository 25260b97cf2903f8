"""The worker pool of ``stress --jobs N`` ends within bounds, leaving no process, however the campaign stops.

The runners are stdlib functions, so the forkserver's workers can unpickle
them without importing this module.
"""

from __future__ import annotations

import time

import psutil
import pytest

from testbed.campaign import processes
from testbed.campaign.processes import run_in_processes


class _Enough(Exception):
    pass


def _children() -> list[psutil.Process]:
    """This process's worker processes still alive (the forkserver and resource tracker may stay)."""
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "forkserver" not in " ".join(child.cmdline()) and "resource_tracker" not in " ".join(child.cmdline()):
                alive.append(child)
        except psutil.Error:
            pass
    return alive


def _settle(seconds: float = 5.0) -> list[psutil.Process]:
    """The worker processes still alive after waiting up to ``seconds`` for them to exit."""
    _, alive = psutil.wait_procs(_children(), timeout=seconds)
    return alive


@pytest.mark.timeout(60)
def test_an_error_raised_by_record_waits_for_the_running_schedules_and_ends_the_pool() -> None:
    recorded: list[object] = []

    def record(result: object) -> None:
        recorded.append(result)
        raise _Enough

    started = time.monotonic()
    with pytest.raises(_Enough):
        run_in_processes(2, time.sleep, lambda i: 0.3, lambda i: i < 50, record, lambda: False)
    assert recorded == [None]
    assert time.monotonic() - started < processes.DRAIN_TIMEOUT
    assert _settle() == []


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # the pool's own thread too
def test_a_stop_whose_schedules_outlast_the_drain_kills_their_workers_and_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(processes, "DRAIN_TIMEOUT", 0.5)
    recorded: list[object] = []
    started = time.monotonic()
    run_in_processes(2, time.sleep, lambda i: 3600.0, lambda i: i < 4, recorded.append, lambda: True)
    assert recorded == []
    assert time.monotonic() - started < 20
    assert _settle() == []


@pytest.mark.timeout(60)
def test_a_clean_campaign_records_every_schedule_in_order() -> None:
    recorded: list[object] = []
    run_in_processes(2, abs, lambda i: -i, lambda i: i < 20, recorded.append, lambda: False)
    assert recorded == list(range(20))
    assert _settle() == []


@pytest.mark.timeout(60)
def test_half_a_result_in_the_pipe_does_not_hang_the_shutdown() -> None:
    """What a worker killed while sending its result leaves: a length header and part of the message."""
    import concurrent.futures
    import multiprocessing
    import os
    import struct

    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
    assert pool.submit(abs, -1).result(timeout=30) == 1
    manager = pool._executor_manager_thread  # type: ignore[attr-defined]
    # the manager thread reads the header and waits for the other 996 bytes, which the killed worker never sends
    os.write(pool._result_queue._writer.fileno(), struct.pack("!i", 1000) + b"half")  # type: ignore[attr-defined]
    processes._kill(list(pool._processes.values()))  # type: ignore[attr-defined]
    started = time.monotonic()
    processes._end_pool(pool, [], clean=False, deadline=None)
    assert time.monotonic() - started < 3 * processes.SHUTDOWN_TIMEOUT
    assert manager is not None and not manager.is_alive()
    assert _settle() == []


@pytest.mark.timeout(60)
def test_killing_workers_with_cancelled_work_pending_leaves_the_pool_thread_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python 3.11's pool thread died on a cancelled future when a worker was killed (a printed traceback)."""
    import concurrent.futures
    import multiprocessing
    import threading

    errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
    assert pool.submit(abs, -1).result(timeout=30) == 1  # the worker is up
    manager = pool._executor_manager_thread  # type: ignore[attr-defined]
    futures = [pool.submit(time.sleep, 30) for _ in range(5)]
    # concurrent.futures has no callback for "running": wait for the state itself, bounded
    deadline = time.monotonic() + 10
    while not futures[0].running() and time.monotonic() < deadline:
        time.sleep(0.01)
    cancelled = [f.cancel() for f in futures]
    assert not cancelled[0] and any(cancelled), "one is running, some were still pending"
    # a stop whose drain has run out: the running one's worker is killed
    processes._end_pool(pool, futures, clean=False, deadline=time.monotonic())
    assert manager is not None and not manager.is_alive()
    assert errors == []
    assert _settle() == []
