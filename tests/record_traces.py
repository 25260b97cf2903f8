"""Re-record every trace the repository keeps: examples/, tests/controlled/fault_traces/, tests/pinned_traces/.

    PYTHONPATH=. python tests/record_traces.py [NAME ...]

A trace's fingerprint holds a hash of the model's code, so any change to
the model makes its traces refuse to replay (``CodeChanged``) until they are
recorded again.  For each trace (or only those whose file stem is named):

- replayed across the change (``allow_changed_code``) and still reproducing
  its violation at its step, the schedule did not move: the same document
  gets the new fingerprint ("refreshed");
- otherwise the schedule moved.  A pinned fault trace is recorded again from
  its case's seed (tests/controlled/record_fault_traces.py, which says when
  that seed no longer finds the fault); an example (a shrunk trace) is
  searched for again: the same config under pos, then random, seeds 1..50,
  until a run breaks the recorded invariant, which is then shrunk and
  written ("re-shrunk").  Its docs/bugs page quotes no step numbers, only
  the replay command, so nothing else needs editing;
- a pinned trace (tests/pinned_traces/, the run a test replays to show one
  consequence of a fault) is searched for again with its own config and
  strategy, seeds 1..50, until a run's first violation is the same
  invariant with the same message but for its numbers; that run's trace is
  written unshrunk ("re-pinned").

Prints one line per trace; exits 1 when some trace could not be recorded.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import testbed  # noqa: E402
from testbed.fingerprint import fingerprint  # noqa: E402
from testbed.runtime import Config  # noqa: E402
from testbed.sched import ReplayDivergedError, load_trace, write_trace  # noqa: E402
from tests.controlled import record_fault_traces  # noqa: E402

EXAMPLES = HERE.parent / "examples"
FAULT_TRACES = HERE / "controlled" / "fault_traces"
PINNED_TRACES = HERE / "pinned_traces"
SEARCH_SEEDS = range(1, 51)


def refreshed(path: Path) -> bool:
    """Whether the trace still reproduces across the change; if so, its fingerprint is brought up to date."""
    trace = load_trace(path)  # the scheduling layer's reading: the fingerprint is not checked here
    try:
        outcome = testbed.replay(path, allow_changed_code=True)
    except (ReplayDivergedError, testbed.TraceError):
        return False
    if outcome.matches != 1:
        return False
    # The replay follows the same tape to the same violation, but what the
    # run did around it (its steps, events after the violation) may have
    # moved with the model: the trace records what a replay does today.
    replayed = outcome.results[0].trace
    if replayed is not None:
        for key in ("preemptions", "steps", "events", "model_events", "violation"):
            if key in replayed:
                trace[key] = replayed[key]
    config = Config.from_json(trace["config"])
    trace["fingerprint"] = fingerprint(trace, config.program_function())
    write_trace(path, trace)
    return True


def reshrunk(path: Path) -> str:
    """Search the example's config again for its invariant, shrink what is found, write it over ``path``."""
    trace = load_trace(path)
    invariant = trace["violation"]["invariant"]
    config = Config.from_json(trace["config"])
    for strategy in ("pos", "random"):
        for seed in SEARCH_SEEDS:
            result = testbed.run(config.replace(strategy=strategy, seed=seed))
            if result.violations and result.violations[0].invariant == invariant and result.trace is not None:
                with tempfile.TemporaryDirectory() as scratch:
                    found = Path(scratch) / "found.json"
                    write_trace(found, result.trace)
                    shrunk = testbed.shrink(found, path)
                return f"re-shrunk from {strategy} seed {seed}: {shrunk.after['preemptions']} preemptions"
    return f"no run of pos or random (seeds {SEARCH_SEEDS.start}..{SEARCH_SEEDS.stop - 1}) breaks {invariant}"


def case_changed(path: Path) -> bool:
    """Whether a pinned fault trace was recorded from another config than its case's today (a scenario edit)."""
    case = next(c for c in record_fault_traces.CASES if c.fault == path.stem)
    return Config.from_json(load_trace(path)["config"]) != case.config()


def message_shape(message: str) -> str:
    """A violation's message with every number replaced: what a re-pinned run must say again."""
    return re.sub(r"\d+", "N", message)


def repinned(path: Path) -> str:
    """Search the pinned trace's config again for its first violation's invariant and message shape."""
    trace = load_trace(path)
    violation = trace["violation"]
    config = Config.from_json(trace["config"])
    for seed in SEARCH_SEEDS:
        result = testbed.run(config.replace(seed=seed))
        first = result.violations[0] if result.violations else None
        if (
            first is not None
            and first.invariant == violation["invariant"]
            and message_shape(first.message) == message_shape(violation["message"])
            and result.trace is not None
        ):
            write_trace(path, result.trace)
            return f"re-pinned: {config.strategy} seed {seed}"
    return f"no run of {config.strategy} (seeds {SEARCH_SEEDS.start}..{SEARCH_SEEDS.stop - 1}) says it again"


def main(wanted: list[str]) -> int:
    status = 0
    for directory in (EXAMPLES, FAULT_TRACES, PINNED_TRACES):
        for path in sorted(directory.glob("*.json")):
            if wanted and path.stem not in wanted:
                continue
            where = path.relative_to(HERE.parent)
            if directory is FAULT_TRACES and case_changed(path):
                print(f"{where}: its case's config changed (the scenario?); recording the case again")
                status |= record_fault_traces.main([path.stem])
            elif refreshed(path):
                print(f"{where}: refreshed")
            elif directory is FAULT_TRACES:
                print(f"{where}: the schedule moved; recording the case again")
                status |= record_fault_traces.main([path.stem])
            elif directory is PINNED_TRACES:
                line = repinned(path)
                status |= int(line.startswith("no run"))
                print(f"{where}: {line}")
            else:
                line = reshrunk(path)
                status |= int(line.startswith("no run"))
                print(f"{where}: {line}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
