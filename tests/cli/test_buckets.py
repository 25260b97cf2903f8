"""Findings grouped into buckets (issue 12 item 3): signature, JSON ``buckets``, ``--out``, ``--shrink``."""

from __future__ import annotations

import json
from pathlib import Path

from testbed import RunResult, StressResult, stress
from testbed.campaign.buckets import Buckets, normalise_message, role, signature_of
from testbed.runtime import Event
from testbed.sched import Violation
from tests.cli._campaign import FAULTY as CONTROLLED


def _violation(thread: str, step: int, message: str) -> Violation:
    return Violation("remset-complete", message, step=step, thread=thread)


def _events(first: str) -> list[Event]:
    return [
        Event(10, first, "weak-list-link", "code #7"),
        Event(20, "mutator-1", "safepoint-arrive", "flushed 3 store-buffer entries"),
        Event(30, first, "pause-start", "pause 2: every mutator stopped"),
        Event(40, "scavenger-0", "scavenge-task", "after the violation: not part of it"),
    ]


def test_signature_ignores_seeds_steps_object_ids_and_thread_numbers() -> None:
    one = signature_of(
        _violation("mutator-3", 30, "at pause start: old #53.0 -> young #39 is not in"), _events("mutator-3")
    )
    two = signature_of(
        _violation("mutator-0", 31, "at pause start: old #8.1 -> young #2 is not in"), _events("mutator-0")
    )
    assert one == two and one.key == two.key
    assert one.operation == "pause-start"
    assert one.thread == "mutator" and one.roles == ("mutator",)
    assert one.message == "at pause start: old #N.N -> young #N is not in"


def test_signature_separates_invariants_operations_and_roles() -> None:
    base = signature_of(_violation("mutator-3", 30, "at pause start: x"), _events("mutator-3"))
    other_invariant = signature_of(
        Violation("no-dangling", "at pause start: x", step=30, thread="mutator-3"), _events("mutator-3")
    )
    earlier = signature_of(_violation("mutator-3", 15, "at pause start: x"), _events("mutator-3"))
    on_worker = signature_of(_violation("scavenger-1", 40, "at pause start: x"), _events("mutator-3"))
    assert len({base.key, other_invariant.key, earlier.key, on_worker.key}) == 4
    assert earlier.operation == "weak-list-link"
    assert on_worker.thread == "scavenger worker" and on_worker.operation == "-"


def test_roles_and_messages_are_normalised() -> None:
    assert [role(n) for n in ("mutator-12", "scavenger-0", "sweeper", "MainThread", "")] == [
        "mutator",
        "scavenger worker",
        "sweeper",
        "main",
        "?",
    ]
    assert normalise_message("after scavenge: slot 0x7f3a of #12.3 stale; old #1 -> young #2") == (
        "after scavenge: slot N of #N.N stale"
    )


def test_a_bucket_keeps_its_first_seed_and_its_smallest_finding() -> None:
    class Found:
        def __init__(self, seed: int, step: int) -> None:
            self.violation = _violation("mutator-1", step, "at pause start: old #1 -> young #2")
            self.scenario, self.seed, self.reproduce, self.trace_path = "mixed", seed, f"run {seed}", None

    buckets = Buckets()
    filed = [
        buckets.add(Found(seed, 30), _events("mutator-1"), preemptions)
        for seed, preemptions in [(5, 9), (6, 3), (7, 3)]
    ]
    assert [what for _, what in filed] == ["opened", "smaller", "counted"]  # a tie keeps the earlier schedule
    (bucket,) = buckets
    assert (bucket.count, bucket.first_seed, bucket.smallest.seed, bucket.size) == (3, 5, 6, (3, 30))


def test_stress_json_has_one_bucket_line_per_signature_and_keeps_every_violation(cli) -> None:
    outcome = cli("stress", *CONTROLLED, "--schedules", "6", "--json", "-")
    assert outcome.code == 1, outcome
    doc = json.loads(outcome.out)
    violations, buckets = doc["violations"], doc["buckets"]
    assert len(violations) >= 6  # the per-finding list stays (docs/design.md, 'The JSON result')
    assert 1 <= len(buckets) < len(violations)
    assert sum(b["count"] for b in buckets) == len(violations)
    assert [b["bucket"] for b in buckets] == list(range(1, len(buckets) + 1))
    for bucket in buckets:
        mine = [v for v in violations if v["bucket"] == bucket["bucket"]]
        assert len(mine) == bucket["count"]
        assert bucket["first_seed"] == mine[0]["seed"]
        assert bucket["smallest"]["seed"] in {v["seed"] for v in mine}
        assert set(bucket["signature"]) == {"invariant", "operation", "recent", "thread", "roles", "message"}
        assert len(bucket["key"]) == 10
    # the summary: one bucket line (and its reproduce line), not one block per finding
    assert outcome.err.count("reproduce: ") == len(buckets)
    assert f"{len(buckets)} buckets ({len(violations)} findings):" in outcome.err


def test_the_same_campaign_files_the_same_buckets(cli) -> None:
    first = json.loads(cli("stress", *CONTROLLED, "--schedules", "4", "--json", "-").out)["buckets"]
    again = json.loads(cli("stress", *CONTROLLED, "--schedules", "4", "--json", "-").out)["buckets"]
    assert first == again


def test_each_bucket_keeps_its_smallest_finding_fewest_preemptions_then_earliest_step() -> None:
    sizes: list[tuple[int, int]] = []  # by finding, in result.findings order

    def measure(result: StressResult, outcome: RunResult) -> None:
        sizes.extend((outcome.stats["preemptions"], finding.violation.step) for finding, _, _ in result.filed)

    result = stress(
        ["store-buffer-storm"],
        strategy="random",
        faults=["unlocked-remset-insert"],
        overrides={"ops": 300},
        schedules=8,
        on_result=measure,
    )
    assert len(sizes) == len(result.findings)
    for bucket in result.buckets:
        mine = [i for i, f in enumerate(result.findings) if f.bucket == bucket.number]
        assert bucket.count == len(mine)
        assert bucket.size == min(sizes[i] for i in mine)
        earliest = next(i for i in mine if sizes[i] == bucket.size)
        assert bucket.smallest is result.findings[earliest]  # a tie keeps the earlier schedule


def test_out_keeps_the_smallest_trace_of_each_bucket_and_it_replays(cli, tmp_path: Path) -> None:
    out = tmp_path / "found"
    outcome = cli("stress", *CONTROLLED, "--schedules", "6", "--out", str(out), "--json", "-")
    assert outcome.code == 1, outcome
    doc = json.loads(outcome.out)
    traces = sorted(out.glob("trace-*.json"))
    assert len(traces) == len(doc["buckets"])
    assert json.loads((out / "index.json").read_text())["buckets"] == doc["buckets"]
    for bucket in doc["buckets"]:
        smallest = bucket["smallest"]
        trace = json.loads(Path(smallest["trace"]).read_text())
        assert trace["seed"] == smallest["seed"]
        assert trace["preemptions"] == smallest["preemptions"]  # smallest: fewest preemptions, then earliest step
        assert smallest["reproduce"] == f"testbed replay {smallest['trace']}"
        replayed = cli("replay", smallest["trace"])
        assert replayed.code == 1 and "reproduced 1/1" in replayed.out, replayed
    # a finding whose file gave way to a smaller one keeps its exact `testbed run` command
    for violation in doc["violations"]:
        if violation["trace"] is None:
            assert violation["reproduce"].startswith("testbed run ")


def test_shrink_shrinks_each_bucket_trace_at_the_end(cli, tmp_path: Path) -> None:
    out = tmp_path / "found"
    outcome = cli("stress", *CONTROLLED, "--schedules", "2", "--out", str(out), "--shrink", "--json", "-")
    assert outcome.code == 1, outcome
    for bucket in json.loads(outcome.out)["buckets"]:
        shrunk = bucket["shrunk"]
        assert shrunk["after"]["preemptions"] <= shrunk["before"]["preemptions"]
        trace = json.loads(Path(bucket["smallest"]["trace"]).read_text())
        assert trace["preemptions"] == shrunk["after"]["preemptions"]
        assert cli("replay", bucket["smallest"]["trace"]).code == 1


def test_shrink_needs_out_and_a_controlled_strategy(cli, usage_error, tmp_path: Path) -> None:
    usage_error(cli("stress", *CONTROLLED, "--schedules", "1", "--shrink"), "--shrink needs --out")
    usage_error(
        cli("stress", "--schedules", "1", "--shrink", "--out", str(tmp_path / "o"), "--pin-budget", "0"),
        "--shrink needs controlled traces",
    )
    assert not (tmp_path / "o").exists()
