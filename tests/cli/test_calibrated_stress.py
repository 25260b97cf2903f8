"""``stress --calibrate``: each schedule draws its knobs, and its findings reproduce with them.

The draws are part of each schedule's config, so the reproduce command of a
finding (which carries every field that differs from the scenario's
defaults) reruns the schedule with the same knobs to the same violation, and
the JSON result shows them per finding.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import testbed
from testbed.calibrate import KNOBS
from testbed.cli import config_from_command

CAMPAIGN = {
    "scenarios": ["store-buffer-storm"],
    "seed": 3,
    "schedules": 8,
    "strategy": "random",
    "faults": ["unlocked-remset-insert"],
    "overrides": {"ops": 200},
    "calibrate": True,
}


@pytest.mark.timeout(300)
def test_each_finding_carries_its_knobs_and_its_reproduce_command_reruns_it() -> None:
    result = testbed.stress(**CAMPAIGN)
    assert result.findings, "the fault is found with drawn knobs"
    for finding in result.findings[:4]:
        assert finding.knobs is not None and set(finding.knobs) == set(KNOBS)
        config = config_from_command(finding.reproduce)
        assert {name: getattr(config, name) for name in KNOBS} == finding.knobs
        rerun = testbed.run(config)
        assert rerun.violations and rerun.violations[0].step == finding.violation.step


@pytest.mark.timeout(300)
def test_schedules_draw_different_knobs_and_the_same_campaign_draws_the_same() -> None:
    seen: list[dict[str, object]] = []
    testbed.stress(
        **(CAMPAIGN | {"faults": []}),
        on_result=lambda _, outcome: seen.append({k: getattr(outcome.config, k) for k in KNOBS}),
    )
    again: list[dict[str, object]] = []
    testbed.stress(
        **(CAMPAIGN | {"faults": []}),
        on_result=lambda _, outcome: again.append({k: getattr(outcome.config, k) for k in KNOBS}),
    )
    assert seen == again
    # each knob keeps the scenario's value half the time, so two schedules may draw the same set
    assert len({json.dumps(k, sort_keys=True) for k in seen}) >= len(seen) * 3 // 4


def test_calibrate_with_hypothesis_is_a_config_error() -> None:
    with pytest.raises(testbed.ConfigError, match="calibrate"):
        testbed.stress(strategy="hypothesis", calibrate=True, schedules=1)


@pytest.mark.timeout(300)
def test_the_json_result_shows_the_knobs_per_finding(cli, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    outcome = cli(
        "stress",
        "--scenario",
        "store-buffer-storm",
        "--calibrate",
        "--fault",
        "unlocked-remset-insert",
        "--strategy",
        "random",
        "--schedules",
        "4",
        "--ops",
        "200",
        "--json",
        str(path),
    )
    assert outcome.code == 1, outcome
    document = json.loads(path.read_text())
    assert document["calibrated"] is True
    assert all(set(v["knobs"]) == set(KNOBS) for v in document["violations"])
