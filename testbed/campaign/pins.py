"""Pinning a campaign's free findings: each bucket's kept free trace turned into an exact controlled trace.

A free schedule's finding comes with a free trace (the order its threads
passed their points in, :mod:`testbed.pinning`).  After the campaign's
schedules, :func:`pin_buckets` pins each bucket's kept finding once, in
bucket order, in this process: ``budget`` schedules at most, their seeds
derived from the finding's seed and the bucket's signature, so a local, a
``jobs`` and a cluster campaign pin the same way.  The target is the
bucket's own signature (invariant, violating operation, thread roles).  A
wall-time cap per bucket (:data:`PIN_SECONDS`) and the campaign's stop
requests are a safety net only: a pin they cut says so (``cut``).

Each bucket records what happened (``bucket.pin``: pinned or not, the
schedules and seconds spent, how) and keeps the pinned trace
(``bucket.pinned_trace``); ``--out`` writes it beside the free one
(:mod:`testbed.campaign.output`).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from typing import Any

from testbed.pinning import pin_trace
from testbed.runtime import ConfigError, Program
from testbed.sched import RunActive, TraceError

__all__ = ["PIN_SECONDS", "pin_buckets", "unpinned_note"]

#: wall seconds a bucket's pinning may take at most (a safety net: the budget is in schedules)
PIN_SECONDS = 120.0


def unpinned_note(budget: int, path: str | None) -> str:
    """What an unpinned finding says: how far the search went and how to try harder."""
    where = shlex.quote(path) if path is not None else "TRACE"
    return f"not pinned within {budget} schedules; `testbed pin {where} --budget {max(500, 10 * budget)}` tries harder"


def pin_buckets(
    result: Any,
    budget: int,
    program: Program | None,
    stopping: Callable[[], bool],
    on_pinned: Callable[[Any], None] | None = None,
) -> None:
    """Pin every bucket of ``result`` that keeps a free trace (see the module docstring)."""
    function = program if callable(program) else None
    for bucket in result.buckets:
        free = bucket.free_trace
        if free is None or bucket.pin is not None:
            continue
        if stopping():
            bucket.pin = {"pinned": False, "schedules": 0, "seconds": 0.0, "how": None, "cut": True}
            continue
        signature = bucket.signature
        started = time.monotonic()
        try:
            outcome = pin_trace(
                free,
                budget=budget,
                program=function,
                max_seconds=PIN_SECONDS,
                target=(signature.invariant, signature.operation, signature.roles),
                stop=stopping,
            )
        except (TraceError, ConfigError, RunActive) as error:  # the program's file changed; a stuck run holds on
            bucket.pin = {"pinned": False, "schedules": 0, "seconds": 0.0, "how": None, "cut": False}
            bucket.pin["error"] = str(error)
            continue
        bucket.pin = outcome.to_json()
        bucket.pin["seconds"] = round(time.monotonic() - started, 3)
        bucket.pinned_trace = outcome.trace
        if on_pinned is not None:
            on_pinned(bucket)
        finding = bucket.smallest
        finding.pinned = outcome.pinned
        if not outcome.pinned:
            finding.pin_note = unpinned_note(budget, bucket.trace)
