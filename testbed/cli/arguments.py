"""Argument helpers the ``testbed`` commands share.

The parser class whose errors are one line (exit 2), the value types
(counts, durations), the model options ``run`` and ``stress`` both take
(``--scenario``, ``--strategy``, ``--fault``, the knobs, ``--set``) and
how they become a :class:`~testbed.runtime.Config`, each command's help
line and example, and the gluing that lets ``--duration -5s`` reach the
type check.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn

from testbed import validate
from testbed.faults import fault_names
from testbed.reproduce import FLAG_FIELDS, config_changes, settable_fields
from testbed.runtime import Config, ConfigError
from testbed.scenarios import DEFAULT_SCENARIO, SCENARIOS, scenario_config

__all__ = [
    "EXAMPLES",
    "UsageError",
    "add_allow_changed_code",
    "add_command",
    "add_model_options",
    "build_config",
    "count",
    "glue_values",
    "model_changes",
    "overview",
    "parse_duration",
    "scenario_names",
    "validate_model_args",
]


class UsageError(Exception):
    """Bad arguments or input: one line, exit 2."""


class Parser(argparse.ArgumentParser):
    """A parser whose errors are one line, and which takes only whole option names.

    ``allow_abbrev=False``: argparse would otherwise take ``--sched 3`` for
    ``--schedules 3``, so a command written against one version silently
    changes meaning when a later one adds an option with the same prefix.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """``"20s"``, ``"1.5m"``, ``"500ms"``, ``"2h"`` or plain seconds, as seconds > 0."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (use e.g. 30s, 2m, 500ms)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive, got {text!r}")
    return seconds


def count(minimum: int) -> Any:
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        try:
            return validate.integer("the value", value, minimum)
        except ConfigError:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}") from None

    return parse


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options ``run`` and ``stress`` share: what to run, and the model's knobs."""
    parser.add_argument(
        "--program",
        metavar="MODULE:FUNCTION",
        help="a custom workload fn(m) run by every mutator: MODULE:FUNCTION (importable, e.g. with PYTHONPATH=.) "
        "or path/to/file.py:FUNCTION; replaces the standard program",
    )
    parser.add_argument("--strategy", default="free", help=f"scheduling strategy ({', '.join(validate.STRATEGIES)})")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="F", help="switch a fault on (repeatable; see `testbed faults`)"
    )
    parser.add_argument("--seed", type=count(0), default=0, help="seed (default 0)")
    parser.add_argument("--json", metavar="FILE", help="write the JSON result to FILE (- for stdout)")
    parser.add_argument("--mutators", type=count(1), help="mutator threads (scenario default: 4)")
    parser.add_argument("--ops", type=count(0), help="operations per mutator")
    parser.add_argument("--gc-interval", type=count(0), help="a scavenge every N allocations per mutator")
    parser.add_argument("--store-buffer-capacity", type=count(1), help="store buffer entries per thread")
    parser.add_argument("--scavenger-workers", type=count(0), help="scavenger worker threads (0: serial)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set any other config knob (repeatable), e.g. pct_depth=4, switch_interval=none, mix.barrier_store=40; "
        f"names: {', '.join(settable_fields())}",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress, from worker processes too (-vv: debug)"
    )


#: one example per command, shown by bare ``testbed``, ``testbed --help`` and each command's ``--help``
EXAMPLES = {
    "run": "testbed run --scenario mixed --strategy random --seed 7 --fault skip-flush --trace-out t.json",
    "stress": "testbed stress --scenario all --duration 30s --fault racy-forwarding --jobs 2 --out findings "
    "--json r.json --log-json events.jsonl --max-rss 4000",
    "replay": "testbed replay t.json --times 3",
    "shrink": "testbed shrink t.json -o small.json",
    "pin": "testbed pin free.json --budget 50 -o pinned.json",
    "timeline": "testbed timeline t.json -o timeline.json",
    "explain": "testbed explain small.json --timeline races.json",
    "scenarios": "testbed scenarios",
    "faults": "testbed faults --json -",
    "invariants": "testbed invariants",
}

_HELP = {
    "run": "run one schedule",
    "stress": "run many schedules with derived seeds",
    "replay": "re-run a trace and check it reproduces",
    "shrink": "shrink a trace's tape and workload to a 1-minimal one, keeping its violation",
    "pin": "turn a free run's trace into a controlled trace that replays its finding",
    "timeline": "a trace as Chrome trace-event JSON (Perfetto)",
    "explain": "replay a trace and name the racing pair behind each preemption",
    "scenarios": "list scenarios",
    "faults": "list faults",
    "invariants": "list invariants",
}

_EXIT_STATUS = "exit status: 0 no violation, 1 violation found, 2 bad usage, bad input or a campaign that ran nothing"


def overview() -> str:
    """The commands, one example each (bare ``testbed``, and the end of ``testbed --help``)."""
    width = max(map(len, EXAMPLES))
    lines = ["commands (one example each):"]
    for name, example in EXAMPLES.items():
        lines.append(f"  {name:<{width}}  {_HELP[name]}")
        lines.append(f"  {'':<{width}}    {example}")
    lines += ["", "`testbed COMMAND --help` lists a command's options.", _EXIT_STATUS]
    return "\n".join(lines)


def add_command(commands: Any, name: str) -> argparse.ArgumentParser:
    """The subparser of command ``name``: its help line as description, its example and the exit statuses."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        description=_HELP[name][0].upper() + _HELP[name][1:] + ".",
        epilog=f"example:\n  {EXAMPLES[name]}\n\n{_EXIT_STATUS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def add_allow_changed_code(parser: argparse.ArgumentParser) -> None:
    """``--allow-changed-code``: replay a trace whose fingerprint no longer matches the code (replay, shrink)."""
    parser.add_argument(
        "--allow-changed-code",
        action="store_true",
        help="replay even if the model's code or the program changed since the trace was recorded (said on stderr)",
    )


def scenario_names(args: argparse.Namespace) -> list[str | None]:
    """``--scenario`` as scenario names (None: no scenario); unknown names fail here."""
    text = args.scenario
    if text is None:
        text = "none" if args.program is not None else DEFAULT_SCENARIO
    if text == "all":
        return list(SCENARIOS)
    names: list[str | None] = [None if n.strip() == "none" else n.strip() for n in text.split(",")]
    for name in names:
        scenario_config(name)  # unknown names fail here, before anything runs
    return names


def model_changes(args: argparse.Namespace, scenario: str | None) -> dict[str, Any]:
    """The Config fields the knob options set (``--mutators`` ..., ``--set``, ``--program``)."""
    changes: dict[str, Any] = {name: getattr(args, name) for name in FLAG_FIELDS if getattr(args, name) is not None}
    changes.update(config_changes(scenario_config(scenario, **changes), args.set))
    if args.program is not None:
        changes["program"] = args.program
    return changes


def build_config(args: argparse.Namespace) -> Config:
    """The Config of a ``testbed run`` command line."""
    names = scenario_names(args)
    if len(names) != 1:
        raise UsageError(f"run takes one scenario, got {args.scenario!r}")
    return scenario_config(
        names[0], seed=args.seed, strategy=args.strategy, faults=frozenset(args.fault), **model_changes(args, names[0])
    )


def validate_model_args(args: argparse.Namespace) -> None:
    """The options run and stress share; the output files are claimed later, once every input passed."""
    validate.strategy(args.strategy)
    if args.strategy == "replay":
        raise UsageError("strategy 'replay' needs a tape: use `testbed replay TRACE`")
    if args.strategy == "hypothesis" and (args.command != "stress" or not args.out):
        raise UsageError("strategy 'hypothesis' needs `stress --out DIR` (its schedules replay only from trace files)")
    fault_names(args.fault, "--fault")


#: options whose value may look like an option ("-5s"); glued as --opt=value
_VALUED = (
    "--duration",
    "--seed",
    "--schedules",
    "--mutators",
    "--ops",
    "--jobs",
    "--cluster",
    "--times",
    "--gc-interval",
    "--store-buffer-capacity",
    "--scavenger-workers",
    "--max-runs",
    "--max-rss",
    "--progress-interval",
    "--set",
)


def glue_values(argv: list[str]) -> list[str]:
    """Let ``--duration -5s`` reach the type check instead of argparse's option lookup."""
    glued: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _VALUED and i + 1 < len(argv) and argv[i + 1].startswith("-") and not argv[i + 1].startswith("--"):
            glued.append(f"{word}={argv[i + 1]}")
            i += 2
            continue
        glued.append(word)
        i += 1
    return glued
