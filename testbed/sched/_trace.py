"""Trace files: everything needed to replay a controlled run exactly.

A trace (``"schema": "testbed.trace/1"``) holds the testbed version, the
full configuration, the seed, the strategy, the decision tape, the event
log and the first violation (with the step it was seen at).  Replaying it
runs the same configuration with the tape as a ``replay`` strategy, and a
faithful replay reports the same invariant at the same step.

Reading is strict: a file that is not a trace of this schema and version
raises :class:`TraceError` with a one-line reason, because a replay that
silently diverged would be worse than none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testbed._version import __version__

__all__ = ["TRACE_SCHEMA", "TraceError", "load_trace", "write_trace"]

TRACE_SCHEMA = "testbed.trace/1"
_REQUIRED = ("schema", "testbed_version", "config", "seed", "strategy", "tape", "events", "violation")


class TraceError(ValueError):
    """The file is not a usable trace."""


def write_trace(path: str | Path, trace: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(trace, separators=(",", ":")) + "\n")


def load_trace(path: str | Path) -> dict[str, Any]:
    """Read and validate a trace file."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise TraceError(f"cannot read trace {str(path)!r}: {error.strerror or error}") from None
    try:
        trace = json.loads(text)
    except json.JSONDecodeError as error:
        raise TraceError(f"trace {str(path)!r} is not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(trace, dict) or trace.get("schema") != TRACE_SCHEMA:
        schema = trace.get("schema") if isinstance(trace, dict) else None
        raise TraceError(f"{str(path)!r} is not a {TRACE_SCHEMA} trace (schema: {schema!r})")
    missing = [key for key in _REQUIRED if key not in trace]
    if missing:
        raise TraceError(f"trace {str(path)!r} lacks {', '.join(missing)}")
    if trace["testbed_version"] != __version__:
        raise TraceError(
            f"trace {str(path)!r} was written by testbed {trace['testbed_version']}, this is {__version__}; "
            "replay it with that version"
        )
    tape = trace["tape"]
    if not isinstance(tape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in tape):
        raise TraceError(f"trace {str(path)!r} has a tape that is not a list of non-negative integers")
    violation = trace["violation"]
    if violation is not None and not (isinstance(violation, dict) and "invariant" in violation and "step" in violation):
        raise TraceError(f"trace {str(path)!r} has a malformed violation record")
    return trace
