"""Bad input never crashes and never loses a finding (docs/design.md, 'Command line', issue 9 item 5).

One table per way in, all answered by one validation layer (testbed/validate.py):

* CLI arguments (``CLI_CASES``): exit 2, exactly one line ``testbed: error: ...``
  naming the problem, nothing on stdout, no traceback, nothing run, no output
  file left behind;
* trace files (``TRACE_CASES``, each given to ``replay``, ``shrink`` and
  ``timeline``): the whole document is validated -- encoding, JSON, schema,
  every field's type and range -- before anything runs, with the same
  one-line exit 2;
* the Python API (``API_CASES``): ``ConfigError`` (one line) naming the field
  and the bad value, raised before anything runs;
* the pytest plugin's options (``PLUGIN_CASES``): a ``pytest.UsageError``
  (exit 4) before any test runs.

``test_the_table_covers_at_least_60_bad_inputs`` counts them.  A write that
fails only after the run (``/dev/full`` takes the open and refuses the
bytes) keeps the run's exit status and puts the result on stderr.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import testbed.campaign.output
import testbed.cli
from testbed import Config, ConfigError, Mix, run, scenario_config, stress
from testbed.cli import EXAMPLES, build_parser
from testbed.fingerprint import header_hashes
from testbed.sched import decode_tape, encode_tape

pytest_plugins = ["pytester"]

# -- CLI arguments ------------------------------------------------------------------
#
# (id, argv, words the error line must contain); "{tmp}" is a fresh tmp_path,
# "{file}" an existing regular file in it.  /proc/... paths: the pre-check may
# pass them (as root every path is "writable"), opening one for writing does not.

CLI_CASES = [
    ("unknown-fault-run", ["run", "--fault", "no-such-fault"], ["no-such-fault", "fault"]),
    ("unknown-fault-stress", ["stress", "--fault", "no-such-fault", "--schedules", "1"], ["no-such-fault"]),
    ("empty-fault", ["run", "--fault", ""], ["fault", "''"]),
    ("unknown-scenario-run", ["run", "--scenario", "no-such-scenario"], ["no-such-scenario", "scenario"]),
    ("unknown-scenario-stress", ["stress", "--scenario", "no-such-scenario", "--schedules", "1"], ["no-such-scenario"]),
    ("empty-scenario-in-list", ["stress", "--scenario", "mixed,", "--schedules", "1"], ["scenario", "''"]),
    ("all-is-not-a-run-scenario", ["run", "--scenario", "all"], ["'all'", "scenario"]),
    ("unknown-strategy-run", ["run", "--strategy", "no-such-strategy"], ["no-such-strategy", "strategy"]),
    ("unknown-strategy-stress", ["stress", "--strategy", "no-such-strategy", "--schedules", "1"], ["no-such-strategy"]),
    ("hypothesis-on-run", ["run", "--strategy", "hypothesis"], ["hypothesis", "stress --out"]),
    ("hypothesis-without-out", ["stress", "--strategy", "hypothesis", "--schedules", "1"], ["hypothesis", "--out"]),
    ("duration-not-a-duration", ["stress", "--duration", "abc"], ["--duration", "abc"]),
    ("duration-bad-unit", ["stress", "--duration", "5x"], ["--duration", "5x"]),
    ("duration-negative", ["stress", "--duration", "-5s"], ["--duration", "-5s"]),
    ("duration-negative-attached", ["stress", "--duration=-5s"], ["--duration", "-5s"]),
    ("duration-zero", ["stress", "--duration", "0"], ["--duration", "0"]),
    ("duration-zero-seconds", ["stress", "--duration", "0s"], ["--duration", "0s"]),
    ("duration-and-schedules", ["stress", "--duration", "1s", "--schedules", "2"], ["--duration", "--schedules"]),
    ("mutators-zero", ["run", "--mutators", "0"], ["--mutators", "0"]),
    ("mutators-too-many", ["run", "--mutators", "257"], ["mutators", "257"]),
    ("mutators-not-a-number", ["run", "--mutators", "four"], ["--mutators", "four"]),
    ("ops-negative", ["run", "--ops", "-1"], ["--ops"]),
    ("gc-interval-negative", ["run", "--gc-interval", "-1"], ["--gc-interval"]),
    ("store-buffer-capacity-zero", ["run", "--store-buffer-capacity", "0"], ["--store-buffer-capacity"]),
    ("scavenger-workers-too-many", ["run", "--scavenger-workers", "17"], ["scavenger_workers", "17"]),
    ("scavenger-workers-too-many-stress", ["stress", "--scavenger-workers", "99", "--schedules", "1"], ["99"]),
    ("schedules-zero", ["stress", "--schedules", "0"], ["--schedules", "0"]),
    ("schedules-fraction", ["stress", "--schedules", "1.5"], ["--schedules", "1.5"]),
    ("jobs-zero", ["stress", "--jobs", "0", "--schedules", "1"], ["--jobs"]),
    ("jobs-negative", ["stress", "--jobs", "-2", "--schedules", "1"], ["--jobs", "-2"]),
    ("seed-negative-run", ["run", "--seed", "-1"], ["--seed", "-1"]),
    ("seed-negative-stress", ["stress", "--seed", "-1", "--schedules", "1"], ["--seed", "-1"]),
    ("seed-not-a-number", ["run", "--seed", "x"], ["--seed"]),
    ("seed-fraction", ["run", "--seed", "1.5"], ["--seed", "1.5"]),
    ("times-zero", ["replay", "{file}", "--times", "0"], ["--times", "0"]),
    ("max-runs-zero", ["shrink", "{file}", "-o", "{tmp}/out.json", "--max-runs", "0"], ["--max-runs", "0"]),
    ("json-in-missing-dir-run", ["run", "--json", "/nonexistent/dir/x.json"], ["/nonexistent/dir"]),
    (
        "json-in-missing-dir-stress",
        ["stress", "--schedules", "1", "--json", "/nonexistent/dir/x.json"],
        ["/nonexistent/dir"],
    ),
    ("json-in-missing-dir-catalogue", ["faults", "--json", "/nonexistent/dir/x.json"], ["/nonexistent/dir"]),
    ("json-is-a-directory", ["run", "--json", "{tmp}"], ["{tmp}"]),
    ("json-empty-path", ["run", "--json", ""], ["--json", "empty"]),
    ("json-without-a-value", ["run", "--json"], ["--json"]),
    ("json-unopenable-run", ["run", "--json", "/proc/testbed-x.json"], ["--json", "/proc/testbed-x.json"]),
    ("json-unopenable-stress", ["stress", "--schedules", "1", "--json", "/proc/testbed-x.json"], ["/proc/testbed-x"]),
    ("json-unopenable-catalogue", ["invariants", "--json", "/proc/testbed-x.json"], ["/proc/testbed-x.json"]),
    ("json-unopenable-replay", ["replay", "{trace}", "--json", "/proc/testbed-x.json"], ["/proc/testbed-x.json"]),
    (
        "trace-out-unopenable",
        ["run", "--strategy", "random", "--trace-out", "/proc/testbed-t.json"],
        ["--trace-out", "/proc/testbed-t.json"],
    ),
    (
        "trace-out-in-missing-dir",
        ["run", "--strategy", "random", "--trace-out", "/nonexistent/t.json"],
        ["/nonexistent"],
    ),
    ("trace-out-is-a-directory", ["run", "--strategy", "random", "--trace-out", "{tmp}"], ["--trace-out", "{tmp}"]),
    (
        "trace-out-same-file-as-json",
        ["run", "--strategy", "random", "--trace-out", "{tmp}/t.json", "--json", "{tmp}/t.json"],
        ["--json", "--trace-out", "same file"],
    ),
    ("timeline-output-unopenable", ["timeline", "{trace}", "-o", "/proc/testbed-tl.json"], ["-o", "/proc/testbed-tl"]),
    ("timeline-output-is-a-directory", ["timeline", "{trace}", "-o", "{tmp}"], ["-o", "{tmp}"]),
    ("timeline-without-output", ["timeline", "{trace}"], ["-o/--output"]),
    ("shrink-output-unopenable", ["shrink", "{trace}", "-o", "/proc/testbed-s.json"], ["-o", "/proc/testbed-s.json"]),
    ("shrink-output-in-missing-dir", ["shrink", "{trace}", "-o", "/nonexistent/s.json"], ["/nonexistent"]),
    ("out-is-an-existing-file", ["stress", "--schedules", "1", "--out", "{file}"], ["--out", "{file}"]),
    ("out-parent-missing", ["stress", "--schedules", "1", "--out", "/nonexistent/dir/found"], ["--out"]),
    (
        "out-unwritable",
        ["stress", "--schedules", "1", "--out", "/proc/testbed-found"],
        ["--out", "/proc/testbed-found"],
    ),
    ("replay-missing-file", ["replay", "{tmp}/absent.json"], ["cannot read", "absent.json"]),
    ("replay-a-directory", ["replay", "{tmp}"], ["cannot read", "{tmp}"]),
    ("replay-without-trace", ["replay"], ["TRACE"]),
    ("one-bad-fault-among-good", ["run", "--fault", "skip-flush", "--fault", "no-such-fault"], ["no-such-fault"]),
    ("unknown-subcommand", ["frobnicate"], ["frobnicate"]),
    ("unknown-option-run", ["run", "--no-such-option"], ["--no-such-option"]),
    ("unknown-option-stress", ["stress", "--no-such-option", "--schedules", "1"], ["--no-such-option"]),
    ("stress-option-on-run", ["run", "--schedules", "3"], ["--schedules"]),
    ("catalogue-takes-no-model-options", ["scenarios", "--seed", "1"], ["--seed"]),
    ("replay-strategy-without-tape-run", ["run", "--strategy", "replay", "--ops", "50"], ["replay"]),
    (
        "replay-strategy-without-tape-stress",
        ["stress", "--strategy", "replay", "--schedules", "1", "--ops", "50"],
        ["replay"],
    ),
]


@pytest.fixture(scope="module")
def recorded_trace() -> dict[str, Any]:
    """A small controlled run that finds remset-complete (a trace with a violation to shrink)."""
    config = scenario_config(
        "store-buffer-storm", seed=3, strategy="random", ops=300, faults=frozenset({"unlocked-remset-insert"})
    )
    result = run(config)
    assert result.violations and result.trace is not None
    return result.trace


def _cli_params() -> list[object]:
    return [pytest.param(argv, needles, id=name) for name, argv, needles in CLI_CASES]


@pytest.mark.parametrize(("argv", "needles"), _cli_params())
def test_bad_arguments_are_one_line_exit_2(
    cli, usage_error, tmp_path: Path, recorded_trace: dict[str, Any], argv: list[str], needles: list[str]
) -> None:
    existing = tmp_path / "existing.txt"
    existing.write_text("not a directory\n")
    trace = tmp_path / "trace.json"
    trace.write_text(json.dumps(recorded_trace))
    before = sorted(tmp_path.iterdir())

    def fill(text: str) -> str:
        return text.replace("{tmp}", str(tmp_path)).replace("{file}", str(existing)).replace("{trace}", str(trace))

    usage_error(cli(*map(fill, argv)), *map(fill, needles))
    assert existing.read_text() == "not a directory\n"
    assert sorted(tmp_path.iterdir()) == before, "bad input left a file behind"


# -- trace files ------------------------------------------------------------------------
#
# (id, edit, words the error line must contain): ``edit`` turns a good trace
# (a dict) into the bad file's content (a dict to dump as JSON, or bytes).


def _set(path: str, value: object) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The trace with the field at ``path`` ("config.mix", "events.3") set to ``value``."""

    def edit(trace: dict[str, Any]) -> dict[str, Any]:
        *parents, last = path.split(".")
        node: Any = trace
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return trace

    return edit


def _drop(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(trace: dict[str, Any]) -> dict[str, Any]:
        del trace[key]
        return trace

    return edit


def _first_run(value: list[int]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(trace: dict[str, Any]) -> dict[str, Any]:
        trace["tape"][0] = value
        return trace

    return edit


def _raw(data: bytes) -> Callable[[dict[str, Any]], bytes]:
    return lambda trace: data


TRACE_CASES: list[tuple[str, Callable[[dict[str, Any]], object], list[str]]] = [
    ("binary", _raw(bytes(range(256)) * 8), ["not UTF-8"]),
    ("utf-16", lambda t: json.dumps(t).encode("utf-16"), ["not UTF-8"]),
    ("empty", _raw(b""), ["not JSON"]),
    ("not-json", _raw(b'{"schema": "testbed.trace/3", tape: [}'), ["not JSON", "line 1"]),
    ("nested-too-deeply", _raw(b"[" * 100_000), ["nested too deeply"]),
    ("integer-too-long", _raw(b'{"seed": ' + b"9" * 5000 + b"}"), ["not usable JSON"]),
    ("a-list", _raw(b"[1, 2, 3]"), ["not a testbed.trace/4 trace"]),
    ("a-result-document", _set("schema", "testbed.result/1"), ["testbed.result/1"]),
    ("version-1", _set("schema", "testbed.trace/1"), ["record the run again"]),
    ("other-version", _set("testbed_version", "0.0.1-other"), ["0.0.1-other"]),
    ("lacks-events", _drop("events"), ["lacks", "events"]),
    ("lacks-config", _drop("config"), ["lacks", "config"]),
    ("unknown-field", _set("extra", 1), ["unknown field", "'extra'"]),
    ("events-not-a-list", _set("events", "start"), ["events must be a list", "'start'"]),
    ("event-three-fields", _set("events.3", [1, "switch", "mutator-0"]), ["events entry 3"]),
    ("event-two-fields", _set("events.0", [1, 2]), ["events entry 0", "[1, 2]"]),
    ("event-step-a-string", _set("events.1", ["7", "switch", "mutator-0", "x"]), ["events entry 1"]),
    ("event-step-negative", _set("events.1", [-1, "switch", "mutator-0", "x"]), ["events entry 1"]),
    ("event-detail-null", _set("events.1", [7, "switch", "mutator-0", None]), ["events entry 1", "None"]),
    ("event-an-object", _set("events.2", {"step": 1}), ["events entry 2"]),
    ("event-kind-empty", _set("events.2", [1, "", "mutator-0", ""]), ["events entry 2", "event not empty"]),
    ("model-events-not-a-list", _set("model_events", {"a": 1}), ["model_events must be a list"]),
    ("model-event-shape", _set("model_events", [[1, "mutator-0", "pause-start"]]), ["model_events entry 0"]),
    ("config-not-an-object", _set("config", ["mixed"]), ["config must be an object"]),
    ("config-unknown-field", _set("config.bogus", 1), ["config", "unknown config field", "'bogus'"]),
    ("config-mutators-zero", _set("config.mutators", 0), ["config", "mutators", "0"]),
    ("config-ops-a-string", _set("config.ops", "300"), ["config", "ops", "'300'"]),
    ("config-faults-a-string", _set("config.faults", "skip-flush"), ["config", "faults", "'skip-flush'"]),
    ("config-fault-unknown", _set("config.faults", ["no-such-fault"]), ["config", "no-such-fault"]),
    ("config-mix-a-list", _set("config.mix", [1, 2]), ["config", "mix", "[1, 2]"]),
    ("config-mix-unknown-weight", _set("config.mix.bogus", 1), ["config", "mix weight", "'bogus'"]),
    ("config-mix-weight-negative", _set("config.mix.alloc", -1), ["config", "mix.alloc", "-1"]),
    ("config-probability-above-1", _set("config.switch_probability", 2.5), ["switch_probability", "2.5"]),
    ("config-sweeping-not-a-bool", _set("config.concurrent_sweeping", "yes"), ["concurrent_sweeping", "'yes'"]),
    ("config-program-a-number", _set("config.program", 5), ["program", "5"]),
    ("program-a-number", _set("program", 5), ["program", "5"]),
    ("seed-negative", _set("seed", -3), ["seed", "-3"]),
    ("seed-not-the-configs", _set("seed", 4), ["seed 4", "config's seed 3"]),
    ("strategy-free", _set("strategy", "free"), ["strategy", "'free'"]),
    ("threads-not-names", _set("threads", [1, 2]), ["threads", "list of names"]),
    ("threads-repeated", lambda t: _set("threads", [t["threads"][0]] * len(t["threads"]))(t), ["distinct"]),
    ("tape-not-a-list", _set("tape", "0120"), ["tape"]),
    ("tape-run-unknown-thread", _first_run([0, 2, 99, 1]), ["tape run 0", "thread 99"]),
    ("tape-run-zero-repeat", _first_run([0, 2, 0, 0]), ["tape run 0", "repeat >= 1"]),
    ("tape-run-more-runnable-than-threads", _first_run([0, 40, 0, 1]), ["tape run 0", "40 runnable"]),
    ("preemptions-negative", _set("preemptions", -1), ["preemptions", "-1"]),
    ("steps-a-string", _set("steps", "many"), ["steps", "'many'"]),
    ("violation-a-string", _set("violation", "remset-complete"), ["violation", "'remset-complete'"]),
    ("violation-step-a-string", _set("violation.step", "506"), ["violation step", "'506'"]),
    ("violation-invariant-empty", _set("violation.invariant", ""), ["violation invariant", "''"]),
    ("violation-unknown-field", _set("violation.where", "here"), ["violation", "'where'"]),
    ("violation-thread-a-number", _set("violation.thread", 3), ["violation thread", "3"]),
]


def _trace_params() -> list[object]:
    return [
        pytest.param(command, edit, needles, id=f"{name}-{command}")
        for name, edit, needles in TRACE_CASES
        for command in ("replay", "shrink", "timeline")
    ]


@pytest.mark.parametrize(("command", "edit", "needles"), _trace_params())
def test_bad_trace_files_are_one_line_exit_2_before_anything_runs(
    cli, usage_error, tmp_path: Path, recorded_trace: dict[str, Any], command: str, edit: Any, needles: list[str]
) -> None:
    content = edit(json.loads(json.dumps(recorded_trace)))
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content))
    out = tmp_path / "out.json"
    argv = {"replay": ["replay", str(path)], "shrink": ["shrink", str(path), "-o", str(out)]}
    line = usage_error(cli(*argv.get(command, ["timeline", str(path), "-o", str(out)])), *needles)
    assert "bad.json" in line, "the error names the file"
    assert not out.exists(), "bad input left an output file behind"


# -- the Python API -------------------------------------------------------------------------
#
# (id, call, words the ConfigError must contain: the field and the bad value)

REPLAY = Config(strategy="replay", ops=10)

API_CASES: list[tuple[str, Callable[[], object], list[str]]] = [
    ("config-faults-none", lambda: Config(faults=None), ["faults", "None"]),
    ("config-faults-a-string", lambda: Config(faults="skip-flush"), ["faults", "'skip-flush'"]),
    ("config-faults-unknown", lambda: Config(faults=["no-such-fault"]), ["'no-such-fault'"]),
    ("config-faults-not-names", lambda: Config(faults=[1]), ["faults", "1"]),
    ("config-faults-a-dict", lambda: Config(faults={"skip-flush": True}), ["faults"]),
    ("config-program-a-string", lambda: Config(program="not callable"), ["program", "'not callable'"]),
    ("config-program-a-reference-without-a-function", lambda: Config(program="mod:"), ["program", "'mod:'"]),
    ("config-program-a-number", lambda: Config(program=5), ["program", "5"]),
    ("config-seed-negative", lambda: Config(seed=-1), ["seed", "-1"]),
    ("config-seed-a-bool", lambda: Config(seed=True), ["seed", "True"]),
    ("config-seed-a-string", lambda: Config(seed="1"), ["seed", "'1'"]),
    ("config-strategy-unknown", lambda: Config(strategy="bogus"), ["strategy", "'bogus'"]),
    ("config-strategy-none", lambda: Config(strategy=None), ["strategy", "None"]),
    ("config-scenario-empty", lambda: Config(scenario=""), ["scenario", "''"]),
    ("config-scenario-a-number", lambda: Config(scenario=3), ["scenario", "3"]),
    ("config-mutators-zero", lambda: Config(mutators=0), ["mutators", "0"]),
    ("config-mutators-too-many", lambda: Config(mutators=257), ["mutators", "257"]),
    ("config-mutators-a-float", lambda: Config(mutators=2.0), ["mutators", "2.0"]),
    ("config-ops-negative", lambda: Config(ops=-1), ["ops", "-1"]),
    ("config-workers-too-many", lambda: Config(scavenger_workers=17), ["scavenger_workers", "17"]),
    ("config-probability-above-1", lambda: Config(switch_probability=1.5), ["switch_probability", "1.5"]),
    ("config-probability-nan", lambda: Config(yield_probability=math.nan), ["yield_probability", "nan"]),
    ("config-wait-timeout-zero", lambda: Config(wait_timeout=0), ["wait_timeout", "0"]),
    ("config-switch-interval-a-string", lambda: Config(switch_interval="fast"), ["switch_interval", "'fast'"]),
    ("config-sweeping-a-string", lambda: Config(concurrent_sweeping="yes"), ["concurrent_sweeping", "'yes'"]),
    ("config-mix-a-dict", lambda: Config(mix={"alloc": 1}), ["mix", "{'alloc': 1}"]),
    ("config-mix-negative", lambda: Config(mix=Mix(alloc=-1)), ["mix.alloc", "-1"]),
    ("config-mix-a-string-weight", lambda: Config(mix=Mix(alloc="x")), ["mix.alloc", "'x'"]),
    ("config-mix-all-zero", lambda: Config(mix=Mix(**dict.fromkeys(Mix.__dataclass_fields__, 0))), ["mix"]),
    ("config-lab-bigger-than-page", lambda: Config(lab_words=1024, page_words=512), ["lab_words", "1024"]),
    ("config-replace-unknown-field", lambda: Config().replace(bogus=1), ["unknown config field", "'bogus'"]),
    ("config-replace-bad-value", lambda: Config().replace(ops=-5), ["ops", "-5"]),
    ("from-json-a-list", lambda: Config.from_json([]), ["config", "JSON object"]),
    ("from-json-unknown-field", lambda: Config.from_json({"bogus": 1}), ["'bogus'"]),
    ("from-json-faults-a-string", lambda: Config.from_json({"faults": "skip-flush"}), ["faults", "'skip-flush'"]),
    ("from-json-mix-a-list", lambda: Config.from_json({"mix": [1]}), ["mix", "[1]"]),
    ("from-json-mix-unknown-weight", lambda: Config.from_json({"mix": {"bogus": 1}}), ["mix weight", "'bogus'"]),
    ("run-a-scenario-name", lambda: run("waltz"), ["config", "'waltz'", "scenario_config"]),
    ("run-none", lambda: run(None), ["config", "None"]),
    ("run-tape-a-string", lambda: run(REPLAY, tape="abc"), ["tape", "'abc'"]),
    ("run-tape-a-number", lambda: run(REPLAY, tape=5), ["tape", "5"]),
    ("run-tape-negative-decision", lambda: run(REPLAY, tape=[0, -1]), ["tape", "-1"]),
    ("run-tape-a-bool-decision", lambda: run(REPLAY, tape=[True]), ["tape", "True"]),
    ("run-tape-mixed-entries", lambda: run(REPLAY, tape=[0, [0, 2, 0, 1]]), ["tape", "entry 1"]),
    ("run-tape-run-one-runnable", lambda: run(REPLAY, tape=[[0, 1, 0, 1]]), ["tape", "[0, 1, 0, 1]"]),
    ("run-tape-run-negative", lambda: run(REPLAY, tape=[[0, 2, 0, -1]]), ["tape", "-1"]),
    ("run-tape-with-random-strategy", lambda: run(Config(strategy="random"), tape=[0]), ["tape", "'random'"]),
    ("run-replay-without-tape", lambda: run(REPLAY), ["replay", "tape"]),
    ("run-hypothesis", lambda: run(Config(strategy="hypothesis")), ["hypothesis", "stress"]),
    ("stress-schedules-zero", lambda: stress(["mixed"], schedules=0), ["schedules", "0"]),
    ("stress-schedules-negative", lambda: stress(["mixed"], schedules=-3), ["schedules", "-3"]),
    ("stress-schedules-a-bool", lambda: stress(["mixed"], schedules=True), ["schedules", "True"]),
    ("stress-schedules-a-float", lambda: stress(["mixed"], schedules=2.5), ["schedules", "2.5"]),
    ("stress-duration-negative", lambda: stress(["mixed"], duration=-1), ["duration", "-1"]),
    ("stress-duration-zero", lambda: stress(["mixed"], duration=0), ["duration", "0"]),
    ("stress-duration-nan", lambda: stress(["mixed"], duration=math.nan), ["duration", "nan"]),
    ("stress-duration-infinite", lambda: stress(["mixed"], duration=math.inf), ["duration", "inf"]),
    ("stress-duration-a-string", lambda: stress(["mixed"], duration="30s"), ["duration", "'30s'"]),
    ("stress-no-budget", lambda: stress(["mixed"]), ["schedules", "duration"]),
    ("stress-jobs-zero", lambda: stress(["mixed"], schedules=1, jobs=0), ["jobs", "0"]),
    ("stress-jobs-a-string", lambda: stress(["mixed"], schedules=1, jobs="2"), ["jobs", "'2'"]),
    ("stress-strategy-unknown", lambda: stress(["mixed"], schedules=1, strategy="bogus"), ["strategy", "'bogus'"]),
    ("stress-strategy-replay", lambda: stress(["mixed"], schedules=1, strategy="replay"), ["replay", "tape"]),
    (
        "stress-hypothesis-in-processes",
        lambda: stress(["mixed"], schedules=1, strategy="hypothesis", jobs=2),
        ["hypothesis", "jobs", "2"],
    ),
    ("stress-fault-unknown", lambda: stress(["mixed"], schedules=1, faults=["nope"]), ["'nope'"]),
    ("stress-faults-a-string", lambda: stress(["mixed"], schedules=1, faults="skip-flush"), ["faults", "skip-flush"]),
    ("stress-faults-none", lambda: stress(["mixed"], schedules=1, faults=None), ["faults", "None"]),
    ("stress-scenario-unknown", lambda: stress(["nope"], schedules=1), ["scenario", "'nope'"]),
    ("stress-scenario-a-number", lambda: stress([3], schedules=1), ["scenario", "3"]),
    ("stress-no-scenarios", lambda: stress([], schedules=1), ["scenarios", "[]"]),
    ("stress-scenarios-none", lambda: stress(None, schedules=1), ["scenarios", "None"]),
    ("stress-seed-negative", lambda: stress(["mixed"], schedules=1, seed=-1), ["seed", "-1"]),
    ("stress-override-unknown", lambda: stress(["mixed"], schedules=1, overrides={"bogus": 1}), ["'bogus'"]),
    ("stress-override-seed", lambda: stress(["mixed"], schedules=1, overrides={"seed": 1}), ["'seed'"]),
    ("stress-override-bad-value", lambda: stress(["mixed"], schedules=1, overrides={"mutators": 0}), ["mutators"]),
    ("stress-overrides-a-list", lambda: stress(["mixed"], schedules=1, overrides=[1]), ["overrides", "[1]"]),
    ("stress-on-result-not-callable", lambda: stress(["mixed"], schedules=1, on_result=5), ["on_result", "5"]),
    ("scenario-config-unknown", lambda: scenario_config("nope"), ["scenario", "'nope'"]),
    ("scenario-config-a-number", lambda: scenario_config(5), ["scenario", "5"]),
    ("scenario-config-unknown-knob", lambda: scenario_config("mixed", bogus=1), ["'bogus'"]),
    ("scenario-config-bad-knob", lambda: scenario_config("mixed", ops="many"), ["ops", "'many'"]),
]


@pytest.mark.parametrize(
    ("call", "needles"), [pytest.param(call, needles, id=name) for name, call, needles in API_CASES]
)
def test_bad_python_arguments_raise_config_error_naming_field_and_value(
    call: Callable[[], object], needles: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, "the reason is one line"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


# -- the pytest plugin -----------------------------------------------------------------------

#: load the plugin by module whether or not the package's entry point is installed
PLUGIN_ARGS = ("-p", "no:testbed", "-p", "testbed.pytest_plugin")

PLUGIN_CASES = [
    ("schedules-zero", ["--testbed-schedules", "0"], ["--testbed-schedules", "0"]),
    ("schedules-negative", ["--testbed-schedules", "-2"], ["--testbed-schedules", "-2"]),
    ("schedules-not-a-number", ["--testbed-schedules", "many"], ["--testbed-schedules", "many"]),
    ("strategy-unknown", ["--testbed-strategy", "bogus"], ["--testbed-strategy", "'bogus'"]),
    ("strategy-replay", ["--testbed-strategy", "replay"], ["--testbed-strategy", "'replay'"]),
    ("strategy-hypothesis", ["--testbed-strategy", "hypothesis"], ["--testbed-strategy", "'hypothesis'"]),
    ("seed-negative", ["--testbed-seed", "-1"], ["--testbed-seed", "-1"]),
    ("seed-not-a-number", ["--testbed-seed", "x"], ["--testbed-seed", "x"]),
]


@pytest.mark.parametrize(
    ("options", "needles"), [pytest.param(options, needles, id=name) for name, options, needles in PLUGIN_CASES]
)
def test_bad_plugin_options_are_usage_errors_before_any_test_runs(
    pytester: pytest.Pytester, options: list[str], needles: list[str]
) -> None:
    """``--testbed-schedules 0`` used to run no schedule and pass a test with a known fault."""
    pytester.makepyfile(
        """
        import testbed

        def test_known_fault(testbed_runner):
            config = testbed.scenario_config(
                "store-buffer-storm", ops=300, faults=frozenset({"store-buffer-overflow-drop"})
            )
            testbed_runner.check(config)
        """
    )
    result = pytester.runpytest_inprocess(*PLUGIN_ARGS, *options)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    assert "passed" not in result.stdout.str()
    errors = result.stderr.str()
    for needle in needles:
        assert needle in errors, f"{needle!r} not in {errors!r}"


def test_the_table_covers_at_least_60_bad_inputs() -> None:
    counts = {"cli": len(CLI_CASES), "trace": len(TRACE_CASES), "api": len(API_CASES), "plugin": len(PLUGIN_CASES)}
    assert sum(counts.values()) >= 60, counts
    assert all(counts.values()), counts
    for cases in (CLI_CASES, TRACE_CASES, API_CASES, PLUGIN_CASES):
        names = [case[0] for case in cases]
        assert len(set(names)) == len(names), "every case has its own id"


# -- writes that fail after the run ------------------------------------------------------------

FOUND = ("run", "--scenario", "store-buffer-storm", "--strategy", "random", "--seed", "3", "--ops", "300")
FOUND += ("--fault", "unlocked-remset-insert")


def test_a_json_result_that_cannot_be_written_goes_to_stderr_and_the_exit_status_stays_1(cli) -> None:
    outcome = cli(*FOUND, "--json", "/dev/full")
    assert outcome.code == 1, outcome
    note, _, document = outcome.err.partition("\n")
    assert note.startswith("testbed: warning: cannot write --json '/dev/full'"), note
    result = json.loads(document)
    assert result["violations"][0]["invariant"] == "remset-complete"
    assert "VIOLATION" in outcome.out


def test_a_trace_that_cannot_be_written_leaves_the_reproduce_command(cli) -> None:
    outcome = cli(*FOUND, "--trace-out", "/dev/full", "--json", "-")
    assert outcome.code == 1, outcome
    result = json.loads(outcome.out)
    assert result["violations"][0]["trace"] is None
    assert result["violations"][0]["reproduce"].startswith("testbed run ")
    assert "cannot write --trace-out '/dev/full'" in outcome.err
    assert "Traceback" not in outcome.err


def test_a_shrunk_trace_that_cannot_be_written_goes_to_stderr(cli, tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    assert cli(*FOUND, "--trace-out", str(trace)).code == 1
    outcome = cli("shrink", str(trace), "-o", "/dev/full", "--max-runs", "5")
    assert outcome.code == 1, outcome
    note, _, document = outcome.err.partition("\n")
    assert "cannot write -o '/dev/full'" in note
    assert json.loads(document)["schema"] == "testbed.trace/4"


def test_a_catalogue_that_cannot_be_written_goes_to_stderr(cli) -> None:
    outcome = cli("faults", "--json", "/dev/full")
    assert outcome.code == 0, outcome
    assert json.loads(outcome.err.partition("\n")[2])[0]["name"]


def test_finding_files_that_cannot_be_written_lose_no_finding(cli, caught, tmp_path, monkeypatch) -> None:
    """A disk that fills up during a campaign: the findings stay in the result, the exit status is 1."""

    def refuse(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(testbed.campaign.output, "atomic_write", refuse)  # every --out file (bucket traces, index)
    outcome = cli("stress", *caught.args, "--out", str(tmp_path / "found"), "--json", "-")
    assert outcome.code == 1, outcome
    assert len(json.loads(outcome.out)["violations"]) >= caught.schedules
    assert outcome.err.count("cannot write into --out") == 1, outcome.err


def test_a_replay_that_diverges_leaves_no_json_file_behind(cli, usage_error, tmp_path, recorded_trace) -> None:
    decisions, expected = decode_tape(recorded_trace["tape"])
    entry = 2
    decisions[entry] = (decisions[entry] + 1) % expected[entry][0]
    tape = encode_tape((d, n, t) for d, (n, t) in zip(decisions, expected, strict=True))
    flipped = recorded_trace | {"tape": tape}
    flipped["fingerprint"] = flipped["fingerprint"] | header_hashes(flipped)  # as if recorded so
    path = tmp_path / "flipped.json"
    path.write_text(json.dumps(flipped))
    out = tmp_path / "result.json"
    usage_error(cli("replay", str(path), "--json", str(out)), "diverged")
    assert not out.exists()


def test_no_output_directory_is_left_behind_by_bad_input(cli, usage_error, tmp_path: Path) -> None:
    """``--out`` names a directory that does not exist yet, but another argument is bad."""
    out = tmp_path / "found"
    usage_error(cli("stress", "--fault", "no-such-fault", "--out", str(out), "--schedules", "1"), "no-such-fault")
    assert not out.exists()


# -- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", list(EXAMPLES))
def test_each_command_help_shows_an_example_that_parses(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as info:
        testbed.cli.main([command, "--help"])
    assert info.value.code == 0
    assert f"example:\n  {EXAMPLES[command]}" in capsys.readouterr().out
    words = shlex.split(EXAMPLES[command])
    assert words[:2] == ["testbed", command]
    assert build_parser().parse_args(words[1:]).command == command


def test_testbed_help_lists_every_command_with_its_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        testbed.cli.main(["--help"])
    text = capsys.readouterr().out
    for example in EXAMPLES.values():
        assert example in text
