"""Snapshots of every thread's Python stack, for liveness and deadlock reports.

A hung safepoint in V8 is diagnosed from all threads' native stacks; here the
equivalent is ``sys._current_frames()`` keyed by thread name (names, not
idents, so a report reads the same from run to run).
"""

from __future__ import annotations

import sys
import threading
import traceback

__all__ = ["thread_stacks"]


def thread_stacks() -> dict[str, list[str]]:
    """Every live thread's stack as formatted lines, keyed and sorted by name."""
    frames = sys._current_frames()
    stacks: dict[str, list[str]] = {}
    for thread in threading.enumerate():
        frame = frames.get(thread.ident) if thread.ident is not None else None
        if frame is None:
            continue
        lines = [line.rstrip("\n") for line in traceback.format_stack(frame)]
        stacks[thread.name] = lines
    return dict(sorted(stacks.items()))
