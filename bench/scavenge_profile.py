"""What serializes the parallel scavenger: load-independent counts per worker, not wall-clock ratios.

    PYTHONPATH=. python bench/scavenge_profile.py [--live 2000] [--repeat 5] [--segment 64]

Wall-clock ratios (``bench/scavenge.py``) need an idle machine; on a shared
one they say more about the neighbours than about the model.  This script
runs the same scavenge as ``bench/scavenge.py`` (``--live`` objects in a
chain held by handles, one collection, ``--segment`` as
``Config.worklist_segment``) with 1 and then 2 workers and, for each task of each
collection, measures what load does not change much:

* ``cpu ms``: the task's own CPU time (``time.thread_time``), so the time a
  core really spent on it; the 2-worker tasks' largest CPU time over the
  1-worker task's is the ratio the parallel phase would reach if the two
  cores were the model's alone (``critical_cpu_ratio``), and their sum over
  it is the work parallelism added (``total_cpu_ratio``: 1.0 means none;
  more means contention that costs CPU, such as cache lines bouncing
  between cores on shared reference counts or locks that spin);
* ``wall ms`` beside it (what the load did);
* items claimed, objects copied/promoted, steals, scheduling points passed;
* every :class:`testbed.sched.Lock` acquisition made by a task, and how many
  found the lock already held (contended: a wait, or a spin in 3.13t's
  ``PyMutex``, on the critical path).

It patches the classes it measures (a measurement only: the model is
unchanged and every run is checked as usual).  Last line:
``critical_cpu_ratio=<float> total_cpu_ratio=<float> contended_per_task=<float> balance=<float> gil=<0|1>``
(balance: the busier task's copies over the mean, 1.0 is even).
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scavenge import run_chain
from testbed.gc import scavenger as scavenger_module
from testbed.gc.worklist import ItemQueue
from testbed.sched import _primitives

__all__ = ["main"]

#: per task (thread name) of the collection being measured
_tasks: dict[str, dict[str, Any]] = {}
_local = threading.local()


def _task() -> dict[str, Any] | None:
    return getattr(_local, "task", None)


def _patch() -> None:
    run_task = scavenger_module.ScavengeJob.run_task

    def measured_run_task(self: Any, name: str) -> Any:
        task: dict[str, Any] = {"items": 0, "acquires": collections.Counter(), "contended": collections.Counter()}
        _local.task = task
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            evacuator = run_task(self, name)
        finally:
            task["cpu"] = time.thread_time() - cpu
            task["wall"] = time.perf_counter() - wall
            _local.task = None
        task["copied"], task["promoted"], task["steals"] = evacuator.copied, evacuator.promoted, evacuator.steals
        _tasks[name] = task
        return evacuator

    scavenger_module.ScavengeJob.run_task = measured_run_task  # type: ignore[method-assign]

    claim = ItemQueue.claim

    def counted_claim(self: Any) -> Any:
        item = claim(self)
        task = _task()
        if task is not None and item is not None:
            task["items"] += 1
        return item

    ItemQueue.claim = counted_claim  # type: ignore[method-assign]

    acquire = _primitives._Mutex.acquire

    def counted_acquire(self: Any, blocking: bool = True, timeout: float | None = None) -> bool:
        task = _task()
        if task is not None:
            task["acquires"][self.name] += 1
            if self._owner is not None:
                task["contended"][self.name] += 1
        return acquire(self, blocking, timeout)

    _primitives._Mutex.acquire = counted_acquire  # type: ignore[method-assign]


def collect(live: int, workers: int, segment: int = 64) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The tasks' measurements and the run's statistics for one scavenge with ``workers`` workers."""
    _tasks.clear()
    result = run_chain(live, 0, workers, segment)
    return dict(_tasks), result.stats


def _row(name: str, task: dict[str, Any]) -> str:
    contended = sum(task["contended"].values())
    return (
        f"  {name:14} cpu {task['cpu'] * 1e3:7.2f} ms  wall {task['wall'] * 1e3:7.2f} ms  items {task['items']:4}  "
        f"copied {task['copied']:5}  promoted {task['promoted']:5}  steals {task['steals']:3}  "
        f"locks {sum(task['acquires'].values()):5} ({contended} contended)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--live", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--segment", type=int, default=64, help="Config.worklist_segment (bench/scavenge.py: 64)")
    args = parser.parse_args()
    _patch()
    critical: list[float] = []
    total: list[float] = []
    contended: list[float] = []
    balance: list[float] = []
    for repeat in range(args.repeat):
        one, _ = collect(args.live, 1, args.segment)
        two, stats = collect(args.live, 2, args.segment)
        base = sum(t["cpu"] for t in one.values())
        cpus = [t["cpu"] for t in two.values()]
        critical.append(max(cpus) / base)
        total.append(sum(cpus) / base)
        contended.append(statistics.mean(sum(t["contended"].values()) for t in two.values()))
        copies = [t["copied"] + t["promoted"] for t in two.values()]
        balance.append(max(copies) / statistics.mean(copies))
        print(f"repeat {repeat}: parallel phase 2 workers {stats['parallel_s'] * 1e3:.2f} ms")
        for name, task in sorted(one.items()) + sorted(two.items()):
            print(_row(name, task))
        if repeat == 0:
            for name, task in sorted(two.items()):
                print(f"  {name} locks: {dict(task['acquires'])} contended: {dict(task['contended'])}")
    gil = int(getattr(sys, "_is_gil_enabled", lambda: True)())
    print(
        f"critical_cpu_ratio={statistics.median(critical):.3f} total_cpu_ratio={statistics.median(total):.3f} "
        f"contended_per_task={statistics.median(contended):.1f} balance={statistics.median(balance):.3f} gil={gil}"
    )


if __name__ == "__main__":
    main()
