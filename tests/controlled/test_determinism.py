"""A controlled run is a function of its config: same seed, same schedule, same result.

Real OS threads, but one at a time and every choice from the strategy, so
two runs of one config agree on the decision tape, the event log, the
violations and every stat that is not a measurement of the machine.

This holds with the parallel scavenger (the default, two workers) as with
the serial one: ``Isolate.run`` joins every model thread it started,
workers and sweeper included, before the run-end check, the stats and the
trace snapshot, so nothing races with the workers' last scheduling points.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import testbed
from testbed.sched import decode_tape, load_trace

SERIAL = pytest.param(0, id="serial")
#: the default config (two scavenger workers)
PARALLEL = pytest.param(None, id="parallel")


def mixed_seed_7(strategy: str, workers: int | None) -> testbed.Config:
    config = testbed.scenario_config("mixed", seed=7, strategy=strategy)
    return config if workers is None else config.replace(scavenger_workers=workers)


@pytest.mark.parametrize("workers", [SERIAL, PARALLEL])
@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_same_config_gives_identical_tape_events_violations_and_stats(
    strategy: str, workers: int | None, comparable_stats
) -> None:
    config = mixed_seed_7(strategy, workers)
    runs = [testbed.run(config) for _ in range(3)]
    first = runs[0]
    assert first.trace is not None
    for other in runs[1:]:
        assert other.trace["tape"] == first.trace["tape"]
        assert other.trace["events"] == first.trace["events"]
        assert other.violations == first.violations
        assert comparable_stats(other.stats) == comparable_stats(first.stats)
        assert other.trace == first.trace
    # Not vacuous: the run made many choices and collected garbage.
    assert first.stats["decisions"] > 1000
    assert first.stats["scavenges"] > 0
    assert first.stats["preemptions"] > 0


def test_run_returns_only_after_every_thread_it_started_has_ended() -> None:
    config = testbed.scenario_config("mixed", seed=7, strategy="random", ops=400, gc_interval=40)
    threads = {f"mutator-{i}" for i in range(config.mutators)} | {
        f"scavenger-{i}" for i in range(config.scavenger_workers)
    }
    traces = []
    for _ in range(15):
        before = set(threading.enumerate())
        result = testbed.run(config)
        leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        for thread in leftover:
            thread.join(5.0)
        assert [t.name for t in leftover] == [], "threads of the run still running after run() returned"
        ended = {name for _, event, name, _ in result.trace["events"] if event == "end"}
        assert ended == threads, "the trace was taken before every thread ended"
        traces.append(result.trace)
    assert all(trace == traces[0] for trace in traces)


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_different_seeds_give_different_schedules(strategy: str) -> None:
    tapes = {
        tuple(
            tuple(run)
            for run in testbed.run(
                testbed.scenario_config("mixed", seed=s, strategy=strategy, scavenger_workers=0)
            ).trace["tape"]
        )
        for s in (7, 8)
    }
    assert len(tapes) == 2


def test_store_buffer_storm_is_deterministic_too(comparable_stats) -> None:
    config = testbed.scenario_config("store-buffer-storm", seed=3, strategy="random", ops=300, scavenger_workers=0)
    first, second = testbed.run(config), testbed.run(config)
    assert first.trace == second.trace
    assert comparable_stats(first.stats) == comparable_stats(second.stats)


def test_replaying_a_runs_tape_gives_the_same_run(comparable_stats) -> None:
    config = mixed_seed_7("random", 0)
    recorded = testbed.run(config)
    replayed = testbed.run(config.replace(strategy="replay"), tape=recorded.trace["tape"])
    assert replayed.trace["tape"] == recorded.trace["tape"]
    assert replayed.trace["events"] == recorded.trace["events"]
    assert replayed.violations == recorded.violations
    assert comparable_stats(replayed.stats) == comparable_stats(recorded.stats)


def test_trace_records_what_a_replay_needs() -> None:
    result = testbed.run(mixed_seed_7("random", 0))
    trace = result.trace
    assert trace["schema"] == "testbed.trace/4"
    assert trace["testbed_version"] == testbed.__version__
    assert trace["config"] == result.config.to_json()
    assert (trace["seed"], trace["strategy"]) == (7, "random")
    assert trace["violation"] is None
    assert trace["preemptions"] == result.stats["preemptions"]
    assert trace["steps"] == result.stats["points"]
    # Registration order; the serial scavenger has no worker threads.
    assert trace["threads"] == ["mutator-0", "mutator-1", "mutator-2", "mutator-3"]
    decisions, expected = decode_tape(trace["tape"])
    assert len(decisions) == result.stats["decisions"]
    assert sum(1 for d in decisions if d) >= trace["preemptions"] > 0
    # Every decision was a real choice, made modulo it, handing the turn to a known thread.
    assert all(2 <= runnable <= 4 and 0 <= d < runnable for d, (runnable, _) in zip(decisions, expected, strict=True))
    assert {thread for _, thread in expected} == {0, 1, 2, 3}
    assert len(trace["tape"]) < len(decisions) / 4, "run-length encoding keeps long tapes small"


def test_free_runs_have_a_free_trace_not_a_tape() -> None:
    trace = testbed.run(testbed.scenario_config("mixed", seed=7, ops=100)).trace
    assert trace is not None and trace["kind"] == "free"
    assert "tape" not in trace and sum(repeat for _, _, repeat in trace["order"]) > 0


@pytest.mark.parametrize("workers", [SERIAL, PARALLEL])
def test_cli_run_twice_writes_identical_tapes_and_events(cli, tmp_path: Path, workers: int | None) -> None:
    args = ["run", "--scenario", "mixed", "--strategy", "random", "--seed", "7"]
    if workers is not None:
        args += ["--scavenger-workers", str(workers)]
    paths = [tmp_path / f"{name}.json" for name in "abc"]
    for path in paths:
        outcome = cli(*args, "--trace-out", str(path))
        assert outcome.code == 0, outcome
        assert "no violations" in outcome.out
    first, *others = (load_trace(p) for p in paths)
    for other in others:
        assert other["tape"] == first["tape"]
        assert other["events"] == first["events"]
    assert sum(run[3] for run in first["tape"]) > 1000
    # The CLI's run is the API's run of the same config.
    assert first["tape"] == testbed.run(mixed_seed_7("random", workers)).trace["tape"]
