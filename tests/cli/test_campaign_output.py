"""CI-friendly campaign output (issue 12 item 4): progress lines, ``--log-json``, checkpoints, ``--max-rss``.

In-process: the captured output is not a terminal, which is the case these
options are for.  Intervals are shortened (``--progress-interval``, the
checkpoint interval) so the tests take seconds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import testbed
import testbed.campaign.monitor
import testbed.cli.output
from testbed import ConfigError
from testbed.campaign.monitor import default_max_rss_mb
from tests.cli._campaign import FAULTY

PROGRESS = re.compile(
    r"^\[ *[\d.]+s\] progress: (\d+) schedules \([\d.]+/s\), (\d+) findings in (\d+) buckets, rss \d+ MB$", re.M
)


def test_progress_lines_every_interval_when_the_output_is_not_a_terminal(cli) -> None:
    outcome = cli("stress", "--duration", "1.5s", "--ops", "200", "--progress-interval", "0.3s")
    assert outcome.code == 0, outcome
    lines = PROGRESS.findall(outcome.out)
    assert len(lines) >= 2, outcome.out
    schedules = [int(done) for done, _, _ in lines]
    assert schedules == sorted(schedules)
    assert outcome.out.index("progress:") < outcome.out.index("testbed stress:")  # before the summary


def test_progress_lines_go_to_stderr_when_stdout_is_the_json(cli) -> None:
    outcome = cli("stress", "--duration", "1s", "--ops", "200", "--progress-interval", "0.2s", "--json", "-")
    assert outcome.code == 0, outcome
    assert json.loads(outcome.out)["buckets"] == []
    assert PROGRESS.search(outcome.err)


def test_quiet_prints_no_progress_lines(cli) -> None:
    outcome = cli("stress", "--duration", "1s", "--ops", "200", "--progress-interval", "0.2s", "--quiet")
    assert outcome.code == 0, outcome
    assert "progress:" not in outcome.out + outcome.err


def test_log_json_writes_one_json_object_per_campaign_event(cli, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    outcome = cli("stress", *FAULTY, "--schedules", "3", "--log-json", str(path), "--json", "-")
    assert outcome.code == 1, outcome
    records = [json.loads(line)["record"] for line in path.read_text().splitlines()]
    kinds = [r["extra"]["event"] for r in records]
    assert kinds.count("schedule") == 3
    assert kinds.count("finding") == len(json.loads(outcome.out)["violations"])
    assert kinds.count("bucket") == len(json.loads(outcome.out)["buckets"])
    assert kinds[-1] == "summary"
    summary = records[-1]["extra"]
    assert summary["schedules"] == 3 and summary["findings"] >= 3 and summary["stopped"] is None
    finding = records[kinds.index("finding")]["extra"]
    assert finding["invariant"] == "remset-complete" and finding["bucket"] == 1 and finding["reproduce"]
    # the library's own log lines (pauses, scavenges) stay out of it, and nothing reaches stderr
    assert all("event" in r["extra"] for r in records)
    assert "DEBUG" not in outcome.err


def test_the_json_result_is_checkpointed_atomically_during_the_campaign(cli, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(testbed.campaign.monitor, "CHECKPOINT_INTERVAL", 0.0)
    path = tmp_path / "r.json"
    written: list[dict[str, Any]] = []
    write = testbed.cli.output.atomic_write

    def spy(target: str | Path, text: str) -> None:
        write(target, text)
        if Path(target) == path:
            written.append(json.loads(path.read_text()))

    monkeypatch.setattr(testbed.cli.output, "atomic_write", spy)
    outcome = cli("stress", *FAULTY, "--schedules", "4", "--json", str(path))
    assert outcome.code == 1, outcome
    checkpoints = [doc for doc in written if not doc["complete"]]
    assert checkpoints, "no checkpoint was written"
    assert [doc["schedules"] for doc in checkpoints] == sorted(doc["schedules"] for doc in checkpoints)
    assert all(len(doc["violations"]) <= 4 * doc["schedules"] for doc in checkpoints)
    final = json.loads(path.read_text())
    assert final["complete"] is True and final["schedules"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temporary file left


def test_max_rss_stops_the_campaign_cleanly_keeping_what_it_found(cli, monkeypatch) -> None:
    measured = iter([50.0, 50.0, 50.0])
    monkeypatch.setattr(testbed.campaign.monitor, "RSS_INTERVAL", 0.0)
    monkeypatch.setattr(testbed.campaign.monitor, "campaign_rss_mb", lambda: next(measured, 5000.0))
    outcome = cli("stress", *FAULTY, "--schedules", "50", "--max-rss", "100", "--json", "-")
    assert outcome.code == 1, outcome
    doc = json.loads(outcome.out)
    assert doc["stopped"] == "max-rss" and doc["max_rss_limit_mb"] == 100
    assert 1 <= doc["schedules"] < 50
    assert doc["violations"] and doc["buckets"]
    assert doc["stats"]["campaign_peak_rss_mb"] == 5000.0
    assert "(stopped: max-rss)" in outcome.err
    assert "more than --max-rss 100" in outcome.err


def test_max_rss_stop_before_any_finding_exits_0(cli, monkeypatch) -> None:
    # Under the limit at the start, over it after the first schedule: clean schedules ran, then it stopped.
    # (Over it from the start, nothing runs: that is no pass, see test_no_false_passes.py.)
    measured = iter([50.0])
    monkeypatch.setattr(testbed.campaign.monitor, "RSS_INTERVAL", 0.0)
    monkeypatch.setattr(testbed.campaign.monitor, "campaign_rss_mb", lambda: next(measured, 5000.0))
    outcome = cli("stress", "--schedules", "5", "--ops", "200", "--max-rss", "100", "--json", "-")
    assert outcome.code == 0, outcome
    doc = json.loads(outcome.out)
    assert doc["stopped"] == "max-rss" and 1 <= doc["schedules"] < 5


def test_max_rss_defaults_to_half_the_machine(cli) -> None:
    doc = json.loads(cli("stress", "--schedules", "1", "--ops", "100", "--json", "-").out)
    assert doc["max_rss_limit_mb"] == default_max_rss_mb() > 0
    assert doc["stats"]["campaign_peak_rss_mb"] > 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--max-rss", "0"), "--max-rss"),
        (("--max-rss", "lots"), "--max-rss"),
        (("--log-json", "-"), "--log-json needs a file"),
        (("--progress-interval", "0s"), "--progress-interval"),
    ],
)
def test_bad_campaign_options_are_one_line_errors(cli, usage_error, args: tuple[str, ...], needle: str) -> None:
    usage_error(cli("stress", "--schedules", "1", *args), needle)


def test_log_json_and_json_may_not_name_the_same_file(cli, usage_error, tmp_path: Path) -> None:
    path = str(tmp_path / "same.json")
    usage_error(cli("stress", "--schedules", "1", "--json", path, "--log-json", path), "same file")


@pytest.mark.parametrize(("name", "value"), [("monitor", "stop"), ("log_level", "LOUD")])
def test_stress_names_a_bad_monitor_or_log_level(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        testbed.stress(schedules=1, **{name: value})


def test_a_monitor_stops_a_hypothesis_campaign_too(tmp_path: Path) -> None:
    calls: list[int] = []

    def monitor(result: testbed.StressResult) -> str | None:
        calls.append(result.schedules)
        return "enough" if len(calls) >= 3 else None

    result = testbed.stress(
        ["store-buffer-storm"], strategy="hypothesis", schedules=50, monitor=monitor, hypothesis_db=None
    )
    assert result.stopped == "enough" and result.schedules < 50
