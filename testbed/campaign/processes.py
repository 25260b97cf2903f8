"""Schedules in worker processes (``stress --jobs N``), stopped cleanly, leaving no process behind.

Workers come from a forkserver (the parent runs threads, so plain fork is
unsafe) and ignore SIGINT and SIGTERM, and so does the forkserver
(:mod:`testbed.campaign._forkserver`): Ctrl-C and a CI runner's SIGTERM
reach the whole process group, and the parent is the one that decides to
stop, lets the running schedules finish, and ends the pool.  A worker whose campaign process is
gone (SIGKILL, the OOM killer) exits by itself within a second: it would
otherwise wait forever for work, and keep the forkserver and the resource
tracker alive with it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil
from loguru import logger

__all__ = ["DRAIN_TIMEOUT", "TICK", "run_in_processes"]

#: seconds between ``watch()`` calls while the campaign waits for worker processes
TICK = 0.5
#: seconds a stopped campaign waits for the schedules its workers are running before it ends them
DRAIN_TIMEOUT = 30.0
#: seconds the workers and the pool's manager thread get to end at shutdown (each wait)
SHUTDOWN_TIMEOUT = 10.0
#: seconds a stop waits for the pool's manager thread to drop cancelled futures before
#: killing workers (it wakes at once; one stuck reading a half-sent result never does)
WAKE_TIMEOUT = 1.0
#: seconds between a worker's checks that its campaign process still exists
ORPHAN_CHECK = 1.0


def run_in_processes(
    jobs: int,
    runner: Callable[[Any], Any],
    schedule: Callable[[int], Any],
    budget_left: Callable[[int], bool],
    record: Callable[[Any], None],
    watch: Callable[[], bool],
    log_level: str | None = None,
) -> None:
    """Run ``runner(schedule(i))`` in ``jobs`` processes, ``2 * jobs`` in flight; record in schedule order.

    ``watch()`` is called at least every :data:`TICK` seconds; once it says
    the campaign stops, schedules not yet started are cancelled and the
    running ones are awaited (at most :data:`DRAIN_TIMEOUT` seconds, then
    their workers are ended).  Every worker is gone when this returns or raises.
    """
    me = psutil.Process()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", "testbed.campaign._forkserver"])  # takes effect when it starts
    pool = concurrent.futures.ProcessPoolExecutor(
        jobs,
        mp_context=context,
        initializer=_worker_setup,
        initargs=(log_level, me.pid, me.create_time()),
    )
    in_flight: list[concurrent.futures.Future[Any]] = []
    index = 0
    deadline: float | None = None
    clean = False
    try:
        while True:
            while len(in_flight) < 2 * jobs and budget_left(index):
                in_flight.append(pool.submit(runner, schedule(index)))
                index += 1
            if not in_flight:
                clean = True
                return
            head = in_flight[0]
            concurrent.futures.wait([head], timeout=TICK)
            if head.done():
                in_flight.pop(0)
                if not head.cancelled():
                    record(head.result())
            if deadline is None and watch():
                deadline = time.monotonic() + DRAIN_TIMEOUT
                in_flight = [future for future in in_flight if not future.cancel()]
            if deadline is not None and time.monotonic() > deadline:
                return  # not clean: the workers still running a schedule are ended below
    finally:
        _end_pool(pool, in_flight, clean, deadline)


def _end_pool(
    pool: concurrent.futures.ProcessPoolExecutor,
    in_flight: list[concurrent.futures.Future[Any]],
    clean: bool,
    deadline: float | None,
) -> None:
    """Shut the pool down with every wait bounded; no worker is left when it returns.

    After a clean end every schedule is done and the workers only have to
    exit.  Otherwise (a stop, or an error raised by ``record``) the
    schedules not started are cancelled and the running ones get until the
    drain deadline; the workers still running one then are killed.  A
    worker killed while it was sending a result leaves half a message in
    the result pipe, and the pool's manager thread blocks reading the rest
    (so would ``shutdown(wait=True)``, and the interpreter at exit, which
    joins that thread): closing this process's end of the pipe once the
    workers are gone gives it end-of-file instead.
    """
    for future in in_flight:
        future.cancel()
    outlasted = False
    if not clean:
        running = [future for future in in_flight if not future.done()]
        if running:
            drain = DRAIN_TIMEOUT if deadline is None else max(0.0, deadline - time.monotonic())
            concurrent.futures.wait(running, timeout=drain)
            outlasted = not all(future.done() for future in running)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    results = getattr(pool, "_result_queue", None)
    # Shut down before any kill, and kill only once the pool's thread has
    # woken and dropped the cancelled futures: one still listed when it sees a
    # killed worker is failed again, which killed Python 3.11's thread
    # (InvalidStateError; 3.12 skips done futures).  Its wake is not ours to
    # wait on, hence the bounded poll.
    pool.shutdown(wait=False, cancel_futures=True)
    if outlasted:
        until = time.monotonic() + WAKE_TIMEOUT
        while _lists_cancelled(manager) and time.monotonic() < until:
            time.sleep(0.005)
        _kill(processes)
    until = time.monotonic() + SHUTDOWN_TIMEOUT
    for process in processes:
        process.join(max(0.0, until - time.monotonic()))
        if process.is_alive():
            with contextlib.suppress(Exception):
                process.kill()
                process.join(SHUTDOWN_TIMEOUT)
    if results is not None and not any(process.is_alive() for process in processes):
        with contextlib.suppress(Exception):
            results._writer.close()  # the workers' ends died with them: what is in the pipe stays readable
    if manager is not None:
        manager.join(SHUTDOWN_TIMEOUT)
        if manager.is_alive():
            logger.warning("the worker pool's manager thread did not end; leaving it")


def _lists_cancelled(manager: threading.Thread | None) -> bool:
    """Whether the pool's manager thread still lists a cancelled future among its work items."""
    items = getattr(manager, "pending_work_items", None) if manager is not None and manager.is_alive() else None
    return items is not None and any(item.future.cancelled() for item in list(items.values()))


def _worker_setup(log_level: str | None, parent: int, parent_started: float) -> None:
    """In each worker: leave stopping to the parent, exit when it is gone, and log if asked."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent, parent_started), name="orphan-check", daemon=True).start()
    if log_level is not None:
        logger.enable("testbed")
        logger.remove()
        logger.add(sys.stderr, level=log_level, format="{time:HH:mm:ss.SSS} {level: <7} [{process}] {message}")


def _exit_with(parent: int, parent_started: float) -> None:
    while True:
        time.sleep(ORPHAN_CHECK)
        try:
            process = psutil.Process(parent)
            alive = process.create_time() == parent_started and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            alive = False
        if not alive:
            os._exit(1)


def _kill(processes: list[Any]) -> None:
    """Kill worker processes (a stop that cannot wait for their schedules; they ignore SIGTERM)."""
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
