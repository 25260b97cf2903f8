"""Output helpers the ``testbed`` commands share: files, the JSON result, the human lines.

Output files are opened (created) for writing before anything runs, so an
unwritable path is bad input (exit 2) rather than a finding lost at the end.
A write that still fails at the end loses nothing either: the result goes
to stderr with a one-line note, and the exit status stays what the run found.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testbed._version import __version__
from testbed.campaign.output import atomic_write
from testbed.cli.arguments import UsageError
from testbed.runtime import Config

__all__ = [
    "RESULT_SCHEMA",
    "check_output_file",
    "deliver",
    "found",
    "label",
    "never_evaluated",
    "outputs",
    "result_json",
    "stats_line",
    "trace_text",
    "violation_lines",
    "warn",
    "write_json",
]

#: the schema of every command's ``--json`` result
RESULT_SCHEMA = "testbed.result/3"


#: what ``stress --out DIR`` writes inside DIR (besides temporary files beside them)
_OUT_DIR_FILES = re.compile(r"index\.json|(trace|violation)-.+\.json|hypothesis-db")


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


class Outputs:
    """The files of this invocation: its inputs and outputs, so none is overwritten by another;
    and the files it created ahead of its run (removed again if it stops on bad input).

    Every path is compared resolved (``./t.json``, ``t.json`` and a symlink
    to it are one file), including the files ``--out DIR`` writes inside DIR.
    """

    def __init__(self) -> None:
        self.created: list[Path] = []
        #: resolved path -> what names it (``TRACE 't.json'``, ``--json 'r.json'``)
        self.taken: dict[Path, str] = {}
        #: resolved --out directories -> what names them
        self.dirs: dict[Path, str] = {}

    def reset(self) -> None:
        self.created.clear()
        self.taken.clear()
        self.dirs.clear()

    def note_inputs(self, args: Any) -> None:
        """The files the command reads: a trace (replay, shrink, timeline), a ``--program FILE.py``."""
        trace = getattr(args, "trace", None)
        if isinstance(trace, str):
            self.taken[_resolved(trace)] = f"the input TRACE {trace!r}"
        program = getattr(args, "program", None)
        if isinstance(program, str) and program.rpartition(":")[0].endswith(".py"):
            source = program.rpartition(":")[0]
            self.taken[_resolved(source)] = f"the --program file {source!r}"

    def _refuse_collision(self, option: str, path: str) -> Path:
        """The resolved ``path``, unless an input or another output is that file (bad input)."""
        resolved = _resolved(path)
        other = self.taken.get(resolved) or self.dirs.get(resolved)
        if other is None:
            other = next(
                (f"a file {named} writes" for d, named in self.dirs.items() if _writes_inside(d, resolved)), None
            )
        if other is not None:
            raise UsageError(f"{option} {path!r} is also {other}: refusing to overwrite it")
        return resolved

    def claim_file(self, option: str, path: str | None) -> None:
        if path is None or path == "-":
            return
        check_output_file(option, path)
        resolved = self._refuse_collision(option, path)
        target = Path(path)
        existed = target.exists()
        try:
            with target.open("a"):
                pass
        except OSError as error:
            raise UsageError(f"{option} {path!r} cannot be opened for writing: {error.strerror or error}") from None
        if not existed:
            self.created.append(target)
        self.taken[resolved] = f"{option} {path!r}"

    def claim_dir(self, option: str, path: str | None) -> None:
        if path is None:
            return
        resolved = self._refuse_collision(option, path)
        for other, named in self.taken.items():
            if _writes_inside(resolved, other):
                raise UsageError(f"{option} {path!r} writes {other.name} there, which is also {named}")
        target = Path(path)
        if target.exists() and not target.is_dir():
            raise UsageError(f"{option} {path!r} exists and is not a directory")
        if not target.exists() and not target.parent.is_dir():
            raise UsageError(f"{option} {path!r}: parent directory does not exist")
        existed = target.exists()
        try:
            target.mkdir(exist_ok=True)
            if not existed:
                self.created.append(target)
            probe = target / f".testbed-probe-{os.getpid()}"
            probe.touch()
            probe.unlink()
        except OSError as error:
            raise UsageError(f"{option} {path!r} is not writable: {error.strerror or error}") from None
        self.dirs[resolved] = f"{option} {path!r}"

    def discard(self) -> None:
        """Remove what :meth:`claim_file` / :meth:`claim_dir` created and nothing has filled."""
        for target in reversed(self.created):
            try:
                if target.is_dir():
                    target.rmdir()  # only if empty
                elif target.stat().st_size == 0:
                    target.unlink()
            except OSError:
                pass
        self.created.clear()


def _writes_inside(directory: Path, path: Path) -> bool:
    """Whether ``stress --out directory`` writes ``path`` (its index, a trace, its Hypothesis database)."""
    try:
        first = path.relative_to(directory).parts[0]
    except (ValueError, IndexError):
        return False
    return _OUT_DIR_FILES.fullmatch(first) is not None


#: the files of the running invocation (``main`` clears it first)
outputs = Outputs()


def check_output_file(option: str, path: str) -> None:
    if not path:
        raise UsageError(f"{option}: output path is empty")
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{option} {path!r} is a directory")
    if not parent.is_dir():
        raise UsageError(f"{option} {path!r}: output directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"{option} {path!r} is not writable")


def deliver(path: str | Path, text: str) -> str | None:
    """Write ``text`` to ``path`` (atomically: a reader never sees half of it); the reason it failed, or None."""
    try:
        atomic_write(path, text)
    except OSError as error:
        return error.strerror or str(error)
    return None


def warn(message: str) -> None:
    print(f"testbed: warning: {message}", file=sys.stderr)


def write_json(path: str | None, data: Any) -> None:
    """The JSON result to ``path`` (``-``: stdout); on a failed write to stderr, after a one-line note."""
    if path is None:
        return
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    reason = deliver(path, text)
    if reason is not None:
        warn(f"cannot write --json {path!r} ({reason}); the JSON result follows on stderr")
        sys.stderr.write(text)


def trace_text(trace: dict[str, Any]) -> str:
    return json.dumps(trace, separators=(",", ":")) + "\n"


def label(config: Config) -> str:
    """How a run's scenario is shown: its name, or what it ran without one."""
    name = config.scenario or "none"
    return name if config.program is None else f"{name} (program {config.program_reference})"


def found(violation: dict[str, Any] | None) -> str:
    """A trace's (or a replay's) first violation in a few words."""
    return "no violation" if violation is None else f"{violation['invariant']} at step {violation['step']}"


def violation_lines(violation_json: dict[str, Any]) -> list[str]:
    lines = [
        f"  {violation_json['invariant']}: {violation_json['message']}",
        f"    step {violation_json['step']} on {violation_json['thread'] or '?'}",
    ]
    if violation_json.get("reproduce"):
        lines.append(f"    reproduce: {violation_json['reproduce']}")
    if violation_json.get("trace"):
        lines.append(f"    details: {violation_json['trace']}")
    return lines


def result_json(
    command: str,
    scenario: str | None,
    program: str | None,
    seed: int,
    strategy: str,
    faults: Sequence[str],
    schedules: int,
    violations: list[dict[str, Any]],
    stats: dict[str, Any],
) -> dict[str, Any]:
    """The ``testbed.result/3`` document every command's ``--json`` writes."""
    return {
        "schema": RESULT_SCHEMA,
        "testbed_version": __version__,
        "command": command,
        "scenario": scenario,
        "program": program,
        "seed": seed,
        "strategy": strategy,
        "faults": sorted(faults),
        "schedules": schedules,
        "violations": violations,
        "stats": stats,
    }


def never_evaluated(stats: dict[str, Any], where: str) -> str | None:
    """The warning line for the invariants no check evaluated in ``where`` ("this run", "this campaign").

    A check that never ran is not a pass.  Without a single scavenge most
    of them cannot run: a custom program triggers GCs only by allocating
    (``--gc-interval``).
    """
    never = [name for name, count in stats.get("checks_by_invariant", {}).items() if count == 0]
    if not never:
        return None
    line = f"  warning: never evaluated in {where}: {', '.join(never)}"
    if not stats.get("scavenges", 0):
        line += " (no scavenge ran: a custom program usually wants --gc-interval N)"
    return line


def stats_line(stats: dict[str, Any]) -> str:
    """What the run(s) exercised, in one line."""
    return (
        f"{stats.get('safepoints', 0)} safepoints, {stats.get('scavenges', 0)} scavenges "
        f"({stats.get('pause_s', 0.0) * 1e3:.0f} ms paused), {stats.get('copied', 0)} copied, "
        f"{stats.get('promoted', 0)} promoted, {stats.get('steals', 0)} steals, "
        f"{stats.get('forwarding_races_lost', 0)} forwarding races lost, "
        f"{stats.get('store_buffer_flushes', 0)} store-buffer flushes, {stats.get('points', 0)} points, "
        f"peak {stats.get('peak_mutator_threads', 0)} mutator / {stats.get('peak_os_threads', 0)} OS threads"
    )
