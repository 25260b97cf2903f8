"""PCT measures its horizon; ``portfolio`` rotates strategies (issue 10 items 2 and 3).

PCT places its ``d - 1`` priority change points among the first
``pct_horizon`` steps.  With ``pct_horizon=0`` (the default) that is the
step count of a probe run of the same config that never preempts, so a
short custom program gets change points inside its run, not past its end.
The measured horizon goes into the run's config, so its trace and its
reproduce command rerun the same schedule.

``portfolio`` is schedule ``i % len(PORTFOLIO)``'s member in a campaign and
the seed's member in a single run; the member is what the config (and so
the trace and the reproduce command) records.
"""

from __future__ import annotations

import pytest

import testbed
from testbed import probes
from testbed.execute import execute
from testbed.runtime import Mutator
from testbed.sched import ControlledScheduler, Event, NoPreemptionStrategy, load_trace, write_trace


def ordering_bug(m: Mutator) -> None:
    """Mutator 1 must run its check between two writes of mutator 0: a depth-2 bug."""
    box = m.isolate.__dict__.setdefault("_ordering_box", {"x": 0})
    if m.index == 0:
        for _ in range(10):
            m.poll()
        box["x"] = 1
        m.poll()
        box["x"] = 0
        for _ in range(10):
            m.poll()
    else:
        for _ in range(10):
            m.poll()
        assert box["x"] == 0, "saw the intermediate state"


def waits_forever(m: Mutator) -> None:
    """Every mutator waits for an event nobody sets: a deadlock in every schedule."""
    event = m.isolate.__dict__.setdefault("_never_set", Event("never-set"))
    m.poll()
    event.wait()


def spins(m: Mutator) -> None:
    """Mutator 0 spins until mutator 1 has run: without preemption it never ends."""
    box = m.isolate.__dict__.setdefault("_spin_box", {"done": False})
    if m.index == 1:
        box["done"] = True
        return
    while not box["done"]:
        m.poll()


def _config(program: testbed.runtime.Program, **changes: object) -> testbed.Config:
    values: dict[str, object] = {"program": program, "mutators": 2, "scavenger_workers": 0, "strategy": "pct"}
    return testbed.Config(**(values | changes))


def test_the_horizon_is_the_step_count_of_a_run_that_never_preempts() -> None:
    config = _config(ordering_bug, pct_depth=2)
    scheduler = ControlledScheduler(NoPreemptionStrategy(), max_steps=config.max_steps)
    execute(config, scheduler)
    assert probes.pct_horizon(config) == scheduler.steps
    assert scheduler.steps < 100, "a few dozen points, not the 18,000 the old formula guessed"
    result = testbed.run(config)
    assert result.config.pct_horizon == scheduler.steps
    assert result.trace is not None and result.trace["config"]["pct_horizon"] == scheduler.steps


def test_the_probe_is_deterministic_and_a_run_reruns_the_same_schedule() -> None:
    config = _config(ordering_bug, pct_depth=2, seed=5)
    first = testbed.run(config)
    probes._probes.clear()
    again = testbed.run(config)
    assert first.config == again.config and first.trace is not None and again.trace is not None
    assert first.trace["tape"] == again.trace["tape"]
    # The recorded horizon skips the probe and gives the same schedule once more.
    assert testbed.run(first.config).trace["tape"] == first.trace["tape"]  # type: ignore[index]
    assert "pct_horizon=" in first.reproduce


def test_an_explicit_horizon_is_kept() -> None:
    assert testbed.run(_config(ordering_bug, pct_horizon=500)).config.pct_horizon == 500


def test_pct_finds_a_depth_two_bug_of_a_short_custom_program_within_a_hundred_schedules() -> None:
    result = testbed.stress(
        [None],
        seed=0,
        schedules=100,
        strategy="pct",
        program=ordering_bug,
        overrides={"mutators": 2, "scavenger_workers": 0, "pct_depth": 2},
    )
    assert result.findings, "the measured horizon puts change points inside the 37-step run"
    assert all(f.violation.invariant for f in result.findings)


def test_a_deadlocking_probe_measures_the_steps_until_the_deadlock() -> None:
    result = testbed.run(_config(waits_forever, pct_depth=2))
    assert 2 <= result.config.pct_horizon < 100
    assert [v.invariant for v in result.violations][:1] == ["safepoint-liveness"]


def test_a_probe_that_never_ends_without_preemption_falls_back_to_the_default_horizon() -> None:
    config = _config(spins, max_steps=3000)
    assert probes.pct_horizon(config) == probes.PCT_FALLBACK_HORIZON


def test_a_probe_that_raises_falls_back_to_the_default_horizon(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(config: testbed.Config, scheduler: object) -> None:
        raise RuntimeError("the run was halted")

    monkeypatch.setattr(probes, "execute", broken)
    assert probes.pct_horizon(_config(ordering_bug, seed=77)) == probes.PCT_FALLBACK_HORIZON


def test_portfolio_is_a_strategy_name_everywhere() -> None:
    assert "portfolio" in testbed.STRATEGIES
    assert probes.PORTFOLIO[:2] == ("random", "pct")
    config = testbed.scenario_config("mixed", strategy="portfolio", ops=100)
    members = {seed: testbed.run(config.replace(seed=seed)).config.strategy for seed in range(len(probes.PORTFOLIO))}
    assert members == {seed: probes.portfolio_member(seed) for seed in members}


def test_a_portfolio_campaign_rotates_members_and_every_finding_replays(tmp_path) -> None:
    ran: list[testbed.Config] = []
    traces: list[dict[str, object]] = []

    def keep(_: testbed.StressResult, outcome: testbed.RunResult) -> None:
        ran.append(outcome.config)
        if outcome.violations:
            traces.append(outcome.trace)  # type: ignore[arg-type]

    result = testbed.stress(
        ["mixed"],
        seed=3,
        schedules=4,
        strategy="portfolio",
        faults=["skip-flush"],
        overrides={"ops": 300, "gc_interval": 30},
        on_result=keep,
    )
    assert result.strategy == "portfolio"
    assert [c.strategy for c in ran] == [probes.portfolio_member(i) for i in range(4)]
    horizons = {c.pct_horizon for c in ran if c.strategy == "pct"}
    assert len(horizons) == 1 and horizons != {0}, "one probe per scenario, recorded in each PCT schedule"
    assert all(c.pct_horizon == 0 for c in ran if c.strategy != "pct")
    assert traces, "skip-flush is found by some of the four schedules"
    for i, trace in enumerate(traces):
        assert trace["strategy"] in probes.PORTFOLIO
        path = tmp_path / f"t{i}.json"
        write_trace(path, trace)
        assert testbed.replay(path).matches == 1
        assert load_trace(path)["config"]["strategy"] == trace["strategy"]
    for finding in result.findings:
        assert "--strategy portfolio" not in finding.reproduce
