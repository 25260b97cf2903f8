"""Free-threaded CPython (PEP 703): counts stay exact and traces mean the same on either build.

Part of the ``free_threaded`` subset (tests/conftest.py), which ``.ci/run``
and ``tox -e py313t`` also run on a ``--disable-gil`` build, where the
model's threads really run at once:

* the GIL stays off after importing testbed and everything it imports (an
  extension module not marked free-threading-safe would turn it back on);
* counters several threads add to lose nothing: the atomics themselves,
  hammered, and a run's deopt counts against the deopt entries its event
  log recorded (an independent count: one list append per deopt);
* the catalogue's example traces, recorded on the GIL build, replay with
  the same tape, the same scheduler and model events and the same
  violation on whichever interpreter runs this (controlled mode runs one
  thread at a time on both).
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import pytest

import testbed
from testbed.sched import AtomicCounter, Tally

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
FREE_THREADED_BUILD = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.mark.timeout(60)
@pytest.mark.skipif(not FREE_THREADED_BUILD, reason="needs a free-threaded (--disable-gil) CPython")
def test_the_gil_stays_off_after_importing_testbed_and_its_dependencies() -> None:
    script = (
        "import sys, testbed, testbed.cli, testbed.api, testbed.campaign, testbed.strategies; "
        "print(int(sys._is_gil_enabled()))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50, check=True)
    assert done.stdout.strip() == "0", f"the GIL is on after importing testbed: {done.stderr}"


def _hammer(body: object, threads: int = 4) -> None:
    start = threading.Barrier(threads)  # all at once, not one after another

    def run() -> None:
        start.wait()
        body()  # type: ignore[operator]

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert not any(worker.is_alive() for worker in workers)


@pytest.mark.timeout(60)
def test_atomics_lose_no_increment_and_hand_out_no_value_twice() -> None:
    tally = Tally(("a", "b"))
    counter = AtomicCounter(1)
    drawn: list[list[int]] = []
    per_thread = 20_000

    def body() -> None:
        mine = []
        for _ in range(per_thread):
            tally.add("a")
            tally.add("c", 2)
            mine.append(counter.fetch_add())
        drawn.append(mine)

    _hammer(body)
    assert tally.totals() == {"a": 4 * per_thread, "b": 0, "c": 8 * per_thread}
    values = [value for mine in drawn for value in mine]
    assert sorted(values) == list(range(1, 4 * per_thread + 1))
    assert counter.value == 4 * per_thread + 1


@pytest.mark.timeout(60)
def test_a_free_runs_deopt_counts_equal_the_deopt_entries_its_event_log_recorded() -> None:
    config = testbed.scenario_config("waltz", seed=3, ops=400).replace(strategy="free")
    result = testbed.run(config)
    assert result.ok, result.violations
    stats = result.stats
    entries = [event.detail for event in result.events if event.kind == "deopt-entry"]
    assert stats["eager_deopts"] + stats["lazy_deopts"] == stats["deopts"] == len(entries) > 0
    assert stats["lazy_deopts"] == sum(1 for detail in entries if detail.startswith("lazy "))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_an_example_trace_replays_identically_on_this_interpreter(path: Path) -> None:
    recorded = json.loads(path.read_text())
    replayed = testbed.replay(path).results[0].trace
    assert replayed is not None
    for key in ("threads", "tape", "steps", "events", "model_events", "violation"):
        assert replayed[key] == recorded[key], f"{path.name}: {key} differs on {sys.version}"
