"""Every available fault is found by a fixed random schedule and replays exactly.

Each case is one seed of the ``random`` strategy, found by searching seeds,
that finds the fault through its expected first detector (one of its
catalogued ``caught_by`` invariants).  A controlled run is a function of its
config and the model's code, so the same seed finds the same violation at
the same step on every machine: the recorded trace of that run is pinned
under ``fault_traces/``, and the run must reproduce it exactly.  A change to
the model that adds or removes scheduling points (or to the random
strategy) moves the schedules: re-record them with
``PYTHONPATH=. python tests/controlled/record_fault_traces.py``, which also
finds a new seed for a case whose seed stopped finding its fault.

The mixed scenario only collects when new space is exhausted; a short run
needs ``--gc-interval`` to reach a pause at all, so its cases set one.  Every
case is found by a mutator during the run (at a pause, or by the deadlock
report for the liveness fault), which the replay tests check.

The control runs the faulty run's own schedule with the fault off, up to
the first operation where the correct code path differs from the faulty
one, and the case's strategy from there (not the same seed, whose
decisions would land elsewhere from the fault's first effect on): that run
must be clean.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import testbed
from testbed.faults import FAULTS
from testbed.sched import load_trace, write_trace
from testbed.shrink import replay
from tests.controlled._same_schedule import control_run


@dataclasses.dataclass(frozen=True)
class Case:
    fault: str
    scenario: str
    seed: int
    overrides: tuple[tuple[str, int], ...]
    #: the first violation's invariant, one of the fault's catalogued ``caught_by``
    invariant: str

    @property
    def recorded(self) -> dict:
        """The pinned trace of this seed's run (``record_fault_traces.py`` writes it)."""
        return load_trace(TRACES / f"{self.fault}.json")

    @property
    def caught_by(self) -> list[str]:
        return next(f.caught_by for f in FAULTS if f.name == self.fault).split(" / ")

    def config(self, **changes: object) -> testbed.Config:
        values = {"seed": self.seed, "strategy": "random", "faults": frozenset({self.fault}), **dict(self.overrides)}
        return testbed.scenario_config(self.scenario, **(values | changes))

    def cli_args(self) -> list[str]:
        words = ["--scenario", self.scenario, "--strategy", "random", "--seed", str(self.seed), "--fault", self.fault]
        for name, value in self.overrides:
            words += [f"--{name.replace('_', '-')}", str(value)]
        return words


SHORT_MIXED = (("ops", 400), ("gc_interval", 40))
SHORT_STORM = (("ops", 300),)
SHORT_SWEEP = (("ops", 300),)
SHORT_MARK_RACE = (("ops", 200),)
SHORT_SWEEP_DONE = (("ops", 100),)
SHORT_CARDS = (("ops", 300),)

CASES = [
    Case("skip-flush", "mixed", 7, SHORT_MIXED, invariant="store-buffers-flushed"),
    Case("unlocked-remset-insert", "store-buffer-storm", 7, SHORT_STORM, invariant="remset-complete"),
    Case("store-buffer-overflow-drop", "store-buffer-storm", 7, SHORT_STORM, invariant="remset-complete"),
    Case("early-scavenge", "mixed", 7, SHORT_MIXED, invariant="world-stopped"),
    Case("resume-before-workers-done", "mixed", 7, SHORT_MIXED, invariant="world-stopped"),
    Case("racy-forwarding", "mixed", 7, SHORT_MIXED, invariant="forwarding-unique"),
    Case("unlocked-steal", "mixed", 87, SHORT_MIXED, invariant="no-from-space-refs"),
    Case("promote-without-remset", "mixed", 7, SHORT_MIXED, invariant="remset-complete"),
    Case("no-poll-in-deopt", "deopt-storm", 7, (), invariant="world-stopped"),
    Case("missing-barrier-in-materialize", "deopt-storm", 1, (), invariant="remset-complete"),
    Case("unlocked-weak-unlink", "weak-list-churn", 1, (), invariant="weak-list-complete"),
    Case("unlink-before-marking-done", "deopt-storm", 1, (), invariant="frames-consistent"),
    Case("stale-frame-code", "deopt-storm", 1, (), invariant="frames-consistent"),
    Case("resume-without-disarm", "mixed", 1, SHORT_MIXED, invariant="safepoint-liveness"),
    Case("lazy-deopt-current-thread-only", "locker-deopt", 1, (), invariant="no-dangling"),
    Case("embedded-refs-not-invalidated", "locker-deopt", 1, (), invariant="no-dangling"),
    Case("no-slot-clear-on-layout-change", "layout-and-folding", 3, SHORT_STORM, invariant="remset-precise"),
    Case("barrier-elided-for-pretenured-fold", "layout-and-folding", 1, SHORT_STORM, invariant="remset-complete"),
    Case("deopt-overwrites-during-sweep", "sweeper-races", 3, SHORT_SWEEP, invariant="no-dangling"),
    Case("scavenge-while-sweeping", "sweeper-races", 1, SHORT_SWEEP, invariant="sweeper-paused-during-scavenge"),
    Case("deopt-skipped-when-already-marked", "deopt-mark-race", 1, SHORT_MARK_RACE, invariant="no-dangling"),
    Case("json-buffer-trimmed-unswept", "json-parse-sweep", 1, (), invariant="no-dangling"),
    Case(
        "sweep-done-before-popped-page-counted",
        "sweep-done-race",
        2,
        SHORT_SWEEP_DONE,
        invariant="sweeper-paused-during-scavenge",
    ),
    Case("card-clear-past-chunk", "card-mark-stealing", 4, SHORT_CARDS, invariant="remset-precise"),
]
IDS = [case.fault for case in CASES]
TRACES = Path(__file__).resolve().parent / "fault_traces"

REPLAYS = 20


def test_every_available_fault_has_a_controlled_case() -> None:
    assert {f.name for f in FAULTS if f.available} == {case.fault for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fault_is_first_reported_by_its_caught_by_invariant_as_in_the_recorded_trace(case: Case) -> None:
    result = testbed.run(case.config())
    assert result.violations, f"{case.fault}: seed {case.seed} found nothing"
    first = result.violations[0]
    assert case.invariant in case.caught_by
    assert first.invariant == case.invariant, first
    recorded = case.recorded
    assert recorded["violation"]["invariant"] == case.invariant
    assert result.trace is not None
    assert result.trace["violation"]["step"] == recorded["violation"]["step"], "the schedule moved: re-record"
    assert result.trace["tape"] == recorded["tape"], "the schedule moved: re-record"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_faulty_schedule_without_the_fault_is_clean(case: Case) -> None:
    # The faulty run's decisions, with the fault off, for as long as the
    # correct model does exactly what the faulty one did (same operations,
    # same decisions); from the first difference on, the case's strategy
    # decides (tests/controlled/_same_schedule.py).
    control = control_run(case.config())
    assert control.faulty.trace is not None
    assert control.faulty.trace["tape"] == case.recorded["tape"], "the schedule moved: re-record"
    assert control.left is not None, f"the fault changed no operation of the run: {control.describe()}"
    assert control.ops_followed > 0, control.describe()
    assert control.result.ok, (control.describe(), [v.to_json() for v in control.result.violations])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fault_trace_replays_to_the_same_invariant_and_step_every_time(case: Case, tmp_path: Path) -> None:
    result = testbed.run(case.config())
    path = tmp_path / f"{case.fault}.json"
    write_trace(path, result.trace)
    outcome = replay(path, times=REPLAYS)
    first = result.violations[0]
    assert first.thread.startswith("mutator-"), "found at a pause, not at run end"
    assert outcome.expected == (first.invariant, first.step)
    assert outcome.matches == REPLAYS
    assert all(r.trace["tape"] == result.trace["tape"] for r in outcome.results)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli_replay_of_a_fault_trace_reproduces_every_time(case: Case, cli, tmp_path: Path) -> None:
    result = testbed.run(case.config())
    path = tmp_path / f"{case.fault}.json"
    write_trace(path, result.trace)
    first = result.violations[0]
    replayed = cli("replay", str(path), "--times", str(REPLAYS))
    assert replayed.code == 1, replayed
    assert f"reproduced {REPLAYS}/{REPLAYS}" in replayed.out
    assert f"expecting {first.invariant} at step {first.step}" in replayed.out
    assert "diverged" not in replayed.out


def test_cli_run_writes_a_fault_trace_whose_reproduce_command_is_the_replay(cli, tmp_path: Path) -> None:
    case = CASES[0]
    path = tmp_path / f"{case.fault}.json"
    ran = cli("run", *case.cli_args(), "--trace-out", str(path))
    assert ran.code == 1, ran
    assert case.invariant in ran.out
    assert f"reproduce: testbed replay {path}" in ran.out
    trace = load_trace(path)
    assert trace["violation"] == case.recorded["violation"]
    assert trace["tape"] == testbed.run(case.config()).trace["tape"], "the CLI runs the API's schedule"
    replayed = cli("replay", str(path), "--times", "2")
    assert replayed.code == 1, replayed
    assert "reproduced 2/2" in replayed.out
