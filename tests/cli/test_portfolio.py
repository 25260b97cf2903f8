"""``--strategy portfolio`` on the command line (issue 10 item 3).

A run with ``--strategy portfolio --seed N`` runs the member its seed picks
and its trace names that member; a stress campaign's traces each name the
member that ran their schedule, and each replays exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testbed.probes import PORTFOLIO, portfolio_member

SMALL = ("--scenario", "mixed", "--ops", "300", "--gc-interval", "30", "--fault", "skip-flush")


def test_the_strategy_help_names_portfolio(cli, capsys) -> None:
    with pytest.raises(SystemExit):
        cli("stress", "--help")
    assert "portfolio" in capsys.readouterr().out


def test_a_portfolio_run_records_the_member_its_seed_picks(cli, tmp_path: Path) -> None:
    for seed in (0, 1):
        path = tmp_path / f"t{seed}.json"
        ran = cli("run", *SMALL, "--strategy", "portfolio", "--seed", str(seed), "--trace-out", str(path))
        assert ran.code in (0, 1), ran
        trace = json.loads(path.read_text())
        assert trace["strategy"] == trace["config"]["strategy"] == portfolio_member(seed)
        if trace["strategy"] == "pct":
            assert trace["config"]["pct_horizon"] > 0


def test_every_failure_of_a_portfolio_campaign_replays(cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ran = cli("stress", *SMALL, "--strategy", "portfolio", "--schedules", "4", "--out", str(out), "--json", "-")
    assert ran.code == 1, ran
    result = json.loads(ran.out)
    assert result["strategy"] == "portfolio"
    traces = sorted(out.glob("trace-*.json"))
    assert traces
    assert {json.loads(t.read_text())["strategy"] for t in traces} <= set(PORTFOLIO)
    for trace in traces:
        replayed = cli("replay", str(trace), "--json", "-")
        assert replayed.code == 1 and "reproduced 1/1" in replayed.err, replayed
