"""The correct model under stress: every scenario, a few stress seeds, zero findings.

Each case runs free-mode schedules for ``--stress-budget`` seconds.  A
finding fails the case with the ``testbed run`` commands that rerun its
schedules.
"""

from __future__ import annotations

import pytest

import testbed

#: stress seeds (schedule seeds are derived from them); distinct from the fast
#: suite's seeds so the stress run covers schedules the fast suite does not
STRESS_SEEDS = (101, 202, 303)


def _describe(findings: list[testbed.Finding], limit: int = 5) -> str:
    lines = [f"{len(findings)} finding(s):"]
    for finding in findings[:limit]:
        message = finding.violation.message
        lines.append(f"  {finding.violation.invariant}: {message[:200]}{'...' if len(message) > 200 else ''}")
        lines.append(f"    reproduce: {finding.reproduce}")
    return "\n".join(lines)


@pytest.mark.parametrize("seed", STRESS_SEEDS)
@pytest.mark.parametrize("scenario", sorted(testbed.SCENARIOS))
def test_correct_model_has_no_findings(scenario: str, seed: int, stress_budget: float) -> None:
    result = testbed.stress([scenario], seed=seed, duration=stress_budget)
    stats = result.stats
    print(
        f"{scenario} seed {seed}: {result.schedules} schedules in {result.wall_s:.1f}s, "
        f"{result.failed_schedules} failing; {stats.get('scavenges', 0)} scavenges, "
        f"{stats.get('safepoints', 0)} safepoints, {stats.get('points', 0)} points"
    )
    assert not result.interrupted
    assert result.schedules >= 1
    assert result.ok, _describe(result.findings)
