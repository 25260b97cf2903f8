"""Counters of one run, as the JSON result's ``stats`` reports them."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["RunStats"]


@dataclasses.dataclass
class RunStats:
    """Written only with the world stopped or by the thread that owns a counter."""

    safepoints: int = 0
    scavenges: int = 0
    mark_compacts: int = 0
    copied: int = 0
    promoted: int = 0
    remset_slots_kept: int = 0
    remset_slots_dropped: int = 0
    pause_s: float = 0.0
    #: the part of ``pause_s`` spent zapping from-space (one pass over it, dead objects included)
    zap_s: float = 0.0
    #: the scavenges' parallel phase: from publishing the job to the last task's end (copying,
    #: promotion, slot updating; no flip, zapping or verification)
    parallel_s: float = 0.0
    forwarding_races_lost: int = 0
    steals: int = 0
    #: copied/promoted counts per scavenger task name
    per_worker: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    peak_mutator_threads: int = 0
    peak_os_threads: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
