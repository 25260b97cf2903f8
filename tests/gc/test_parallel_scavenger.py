"""The parallel scavenger end to end through ``testbed.run``.

The correct model (no fault) survives every mode with 1, 2 and 4 workers on
both scenarios: no violation, scavenges happened, every worker reported its
counters, and the workers really were OS threads next to the mutators.  With
four workers a fixed random schedule (deterministic: a controlled run is a
function of its config) shows tasks losing forwarding races and stealing.
"""

from __future__ import annotations

import pytest

import testbed

SCENARIOS = ["mixed", "store-buffer-storm"]
SEEDS = [1, 2]

#: a controlled random schedule whose four workers race and steal
RACY_SEED = 1


def run(scenario: str, strategy: str, workers: int, seed: int) -> testbed.RunResult:
    config = testbed.scenario_config(scenario, seed=seed, strategy=strategy, scavenger_workers=workers)
    return testbed.run(config)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("workers", [1, 2, 4])
@pytest.mark.parametrize("strategy", ["free", "random", "pct"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_parallel_scavenge_keeps_the_model_correct(
    stray_scavenger_threads, scenario: str, strategy: str, workers: int, seed: int
) -> None:
    result = run(scenario, strategy, workers, seed)
    assert result.violations == [], [v.to_json() for v in result.violations]
    stats = result.stats
    assert stats["scavenges"] > 0
    assert stats["copied"] + stats["promoted"] > 0
    assert sorted(stats["per_worker"]) == [f"scavenger-{i}" for i in range(workers)]
    per_worker = stats["per_worker"].values()
    assert sum(w["copied"] for w in per_worker) == stats["copied"]
    assert sum(w["promoted"] for w in per_worker) == stats["promoted"]
    mutators = result.config.mutators
    assert stats["peak_os_threads"] >= mutators + workers + 1
    if workers == 1:
        assert (stats["steals"], stats["forwarding_races_lost"]) == (0, 0), "one task has no one to race"
    assert stray_scavenger_threads() == []


def test_four_workers_lose_forwarding_races_and_steal_on_a_fixed_random_schedule() -> None:
    result = run("mixed", "random", 4, RACY_SEED)
    assert result.ok, [v.to_json() for v in result.violations]
    assert result.stats["forwarding_races_lost"] > 0
    assert result.stats["steals"] > 0
    assert all(w["copied"] + w["promoted"] > 0 for w in result.stats["per_worker"].values()), "every worker worked"


@pytest.mark.parametrize(("segment", "steals"), [(8, True), (1000, False)])
def test_the_worklist_segment_sets_when_a_task_publishes(segment: int, steals: bool) -> None:
    # 200 live objects in a chain, all held by handles: each root item of 64
    # slots copies 64 objects at once, more than a segment of 8 (published,
    # so stolen back at least by the publisher) and fewer than one of 1,000
    # (kept local: nothing published, nothing to steal).
    def program(m: testbed.Mutator) -> None:
        with m.scope():
            previous = None
            for _ in range(200):
                handle = m.alloc(fields=2)
                if previous is not None:
                    m.store(handle, 0, previous)
                previous = handle
            m.isolate.collect_garbage(m)

    config = testbed.Config(
        mutators=1, scavenger_workers=2, new_space_pages=4, program=program, worklist_segment=segment, seed=1
    )
    result = testbed.run(config)
    assert result.ok, [v.to_json() for v in result.violations]
    assert result.stats["copied"] == 200
    assert (result.stats["steals"] > 0) is steals


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_controlled_parallel_scavenge_is_deterministic(strategy: str) -> None:
    first, second = (run("mixed", strategy, 4, RACY_SEED) for _ in range(2))
    assert first.trace["tape"] == second.trace["tape"]
    for key in ("scavenges", "copied", "promoted", "steals", "forwarding_races_lost", "per_worker", "points"):
        assert first.stats[key] == second.stats[key], key


def test_peak_os_threads_counts_every_thread_alive_at_launch() -> None:
    result = run("mixed", "pct", 4, 0)
    assert result.ok
    assert result.stats["peak_mutator_threads"] == result.config.mutators
    assert result.stats["peak_os_threads"] >= result.config.mutators + 4 + 1
