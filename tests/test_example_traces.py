"""Every trace under ``examples/`` still reproduces its violation.

The shrunk traces of docs/bugs/ are part of the documentation: a change to
the model that moves a scheduling point would silently break the command a
page tells readers to run.  Each is replayed through the public API, several
times, and must find the recorded violation at the recorded step each time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import testbed

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TRACES = sorted(EXAMPLES.glob("*.json"))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("trace", TRACES, ids=[path.stem for path in TRACES])
def test_example_trace_reproduces_its_violation(trace: Path) -> None:
    recorded = json.loads(trace.read_text())
    assert recorded["violation"] is not None, f"{trace.name} records no violation"
    result = testbed.replay(trace, times=3)
    assert result.matches == 3, f"{trace.name}: reproduced {result.matches}/3"


def test_every_example_has_a_bug_page() -> None:
    pages = {path.stem for path in (EXAMPLES.parent / "docs" / "bugs").glob("*.md")}
    for trace in TRACES:
        fault = trace.stem
        assert any(fault in (EXAMPLES.parent / "docs" / "bugs" / f"{page}.md").read_text() for page in pages), (
            f"no docs/bugs page mentions {fault}"
        )
