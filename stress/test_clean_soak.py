"""The clean soak: every strategy, every scenario, zero findings.

Each case is one campaign of ``--soak-schedules`` schedules (default 1,000)
with one strategy over all scenarios, round robin: the evidence behind "the
correct model runs with zero violations" for each of the five strategies a
campaign can use.  ``pytest stress/test_clean_soak.py -n 2`` runs them; the
CLI equivalent of one case is
``testbed stress --scenario all --strategy pos --schedules 1000 --seed 7``.
"""

from __future__ import annotations

import pytest

import testbed

#: the strategies a campaign draws schedules from (replay and hypothesis are
#: not samplers of their own: replay follows a tape, hypothesis is covered by
#: tests/hypothesis)
STRATEGIES = ("free", "random", "pct", "pos", "surw")
SOAK_SEED = 7


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_correct_model_has_no_findings_over_a_soak(strategy: str, soak_schedules: int) -> None:
    result = testbed.stress(sorted(testbed.SCENARIOS), seed=SOAK_SEED, schedules=soak_schedules, strategy=strategy)
    print(
        f"soak strategy={strategy} schedules={result.schedules} failing={result.failed_schedules} "
        f"wall_s={result.wall_s:.0f} scavenges={result.stats.get('scavenges', 0)}"
    )
    assert not result.interrupted
    assert result.schedules == soak_schedules
    assert result.ok, [finding.to_json() for finding in result.findings[:3]]
