"""The invariant catalogue (stable names, docs/design.md, 'Invariants').

``checked`` says whether this version of the model has a checker for the
invariant (an unchecked one would belong to a part of the model not built
yet; it would be listed so users see the whole plan).
"""

from __future__ import annotations

import dataclasses

__all__ = ["INVARIANTS", "Invariant", "invariant_names"]


@dataclasses.dataclass(frozen=True)
class Invariant:
    name: str
    holds: str
    checked_at: str
    checked: bool


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "world-stopped",
        "no mutator executes a heap operation while a GC is in progress",
        "pause start; every mutator heap operation",
        True,
    ),
    Invariant(
        "store-buffers-flushed", "at GC start every store buffer is empty", "pause start (before remset-complete)", True
    ),
    Invariant(
        "remset-complete",
        "every old-to-young slot is in the remembered set (or an unflushed buffer, before the pause)",
        "pause start, run end",
        True,
    ),
    Invariant(
        "remset-precise",
        "after a scavenge every remembered slot is a tagged field (per its host's map word) holding a young object",
        "after each scavenge (after the checkmark trace)",
        True,
    ),
    Invariant(
        "no-from-space-refs", "after a scavenge no root or field refers to from-space", "after each scavenge", True
    ),
    Invariant(
        "forwarding-unique",
        "an evacuated object has exactly one copy and every reference agrees",
        "after each scavenge",
        True,
    ),
    Invariant(
        "no-dangling",
        "no reachable reference to a freed or zapped object; no read through one, nor through an embedded "
        "object that running code finds cleared; no write into a freed one; no live code embeds one",
        "every mutator field read and embedded-object load; every checkmark trace (pause start, after each "
        "collection, run end); code's embedded objects at the same points; every remembered slot a scavenger "
        "task reads; freed old-space objects after each scavenge",
        True,
    ),
    Invariant(
        "reachability-preserved",
        "the logical graph reachable from roots is unchanged by a GC (shadow oracle and checkmark)",
        "after each scavenge and mark-compact, run end",
        True,
    ),
    Invariant(
        "weak-list-wellformed",
        "the weak list is acyclic, holds only code marked for deopt, each at most once, nothing freed",
        "every pause, after each scavenge and mark-compact, run end",
        True,
    ),
    Invariant(
        "weak-list-complete",
        "every deoptimized code object still alive is on the list",
        "every pause, after each scavenge and mark-compact, run end",
        True,
    ),
    Invariant(
        "weak-list-cleared",
        "after a mark-compact no unmarked entry remains and no live entry was freed",
        "after each mark-compact (in-pause sweep) or the next pause (concurrent sweep)",
        True,
    ),
    Invariant(
        "frames-consistent",
        "no frame refers to freed code",
        "every guard check and return; every pause, after each scavenge and mark-compact, run end",
        True,
    ),
    Invariant(
        "safepoint-liveness",
        "every safepoint completes; no deadlock, no livelock, no wait that stops making progress",
        "every wait; the whole run",
        True,
    ),
    Invariant("model-error", "no thread of the model or of a custom workload raises", "every thread", True),
    Invariant(
        "sweeper-paused-during-scavenge",
        "the concurrent sweeper does no work (no page, not the weak list) while a scavenge runs",
        "pause start, after each scavenge",
        True,
    ),
)


def invariant_names() -> list[str]:
    return [inv.name for inv in INVARIANTS]
