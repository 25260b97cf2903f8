"""``testbed run --explain``: the waltz as it happened, for one deopt that met a GC.

Reads the isolate's event log (:mod:`testbed.runtime.events`) and picks the
first deopt whose thread was parked in the runtime while a pause started,
i.e. a deopt that joined a pending scavenge at its entry.  It prints that
deopt's story in step order: the guard failure, the pause and every
thread's arrival with its store-buffer flush, the scavenge tasks per
worker, the deopt entry leaving the runtime after the GC, materialization,
the rebuilt frame, the weak-list link, and the later mark-compact unlink of
the same code, each with its thread and step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from testbed.runtime import Event

__all__ = ["explain"]

_CODE = re.compile(r"code #(\d+)")
_PAUSE_KINDS = ("pause-start", "safepoint-arrive", "scavenge-task", "scavenge-end", "mark-compact")
_DEOPT_KINDS = ("deopt-entry", "materialize", "frame-rebuilt", "patch-return", "weak-list-link")


def _code_of(event: Event) -> str | None:
    match = _CODE.search(event.detail)
    return match.group(1) if match else None


def _no_story(events: Sequence[Event]) -> str:
    """Why there is no story, with a hint only where one applies.

    A run without a deopt (a custom program that never fails a guard) gets
    no ``--seed`` hint: no seed makes a program deopt that never calls into
    the deoptimizer.  A run with deopts but no pause needs more GCs, not
    another seed.
    """
    deopts = sum(1 for e in events if e.kind == "deopt-entry")
    pauses = sum(1 for e in events if e.kind == "pause-start")
    if deopts == 0:
        return (
            "no deopt in this run, so none met a GC: the story starts at a failed guard "
            "(a workload that calls optimized code and fails its guards, e.g. --scenario waltz)"
        )
    if pauses == 0:
        return f"no GC pause in this run ({deopts} deopts); try a smaller --gc-interval"
    return (
        f"no deopt met a pending GC in this run ({deopts} deopts, {pauses} pauses); "
        "try another --seed or a smaller --gc-interval"
    )


def explain(events: Sequence[Event]) -> list[str]:
    """Lines telling one deopt-meets-scavenge story, or why there is none."""
    start = None
    for i, event in enumerate(events):
        if event.kind not in ("guard-failed", "lazy-deopt"):
            continue
        entry = next(
            (
                j
                for j in range(i + 1, len(events))
                if events[j].kind == "deopt-entry" and events[j].thread == event.thread
            ),
            None,
        )
        if entry is not None and any(events[k].kind == "pause-start" for k in range(i + 1, entry)):
            start = (i, entry)
            break
    if start is None:
        return [_no_story(events)]
    first, entry = start
    thread = events[first].thread
    code = _code_of(events[first])
    chosen: list[Event] = [events[first]]
    chosen.extend(e for e in events[first + 1 : entry] if e.kind in _PAUSE_KINDS)
    after = entry
    for j in range(entry, len(events)):
        e = events[j]
        if e.thread == thread and e.kind in _DEOPT_KINDS and _code_of(e) == code:
            chosen.append(e)
            after = j
        if e.kind == "weak-list-link" and _code_of(e) == code:
            break
    unlink = next(
        (e for e in events[after + 1 :] if e.kind == "weak-list-unlink" and _code_of(e) == code),
        None,
    )
    if unlink is not None:
        index = events.index(unlink)
        marking = next((e for e in reversed(events[:index]) if e.kind == "mark-compact"), None)
        if marking is not None:
            chosen.append(marking)
        chosen.append(unlink)
    lines = [f"deopt of code #{code} on {thread} met a pending scavenge:"]
    width = max(len(e.thread) for e in chosen)
    for e in chosen:
        lines.append(f"  step {e.step:>7}  {e.thread:<{width}}  {e.kind:<17} {e.detail}")
    if unlink is None:
        lines.append(f"  (code #{code} was still on the weak list when the run ended)")
    return lines
