"""The fault catalogue: named, switchable bugs (DESIGN.md section 5).

Each fault is a real bug put back into the model's own code path (the
module that reads the switch is named in ``where``); nothing here detects
anything.  A run with the fault on is caught only when the race or protocol
slip really happened and an invariant checker saw its effect.

``available`` is False for faults whose code path belongs to a part of the
model not built yet; asking for one is a usage error.
"""

from __future__ import annotations

import dataclasses

from testbed.validate import ConfigError

__all__ = ["FAULTS", "Fault", "UnknownFault", "validate_faults"]


class UnknownFault(ConfigError):
    """A fault name that is not in the catalogue or not available yet."""


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    bug: str
    caught_by: str
    where: str
    available: bool

    @property
    def scenario(self) -> str:
        """The scenario built to provoke this fault's race."""
        return _AIMED_AT[self.name]


_AIMED_AT = {
    "skip-flush": "mixed",
    "unlocked-remset-insert": "store-buffer-storm",
    "store-buffer-overflow-drop": "store-buffer-storm",
    "early-scavenge": "mixed",
    "resume-before-workers-done": "store-buffer-storm",
    "racy-forwarding": "mixed",
    "unlocked-steal": "mixed",
    "promote-without-remset": "mixed",
    "no-poll-in-deopt": "waltz",
    "missing-barrier-in-materialize": "deopt-storm",
    "unlocked-weak-unlink": "weak-list-churn",
    "unlink-before-marking-done": "deopt-storm",
    "stale-frame-code": "deopt-storm",
    "resume-without-disarm": "mixed",
}


FAULTS: tuple[Fault, ...] = (
    Fault(
        "skip-flush",
        "a mutator enters the safepoint without flushing its store buffer",
        "store-buffers-flushed / remset-complete",
        "testbed/runtime/safepoint.py",
        True,
    ),
    Fault(
        "unlocked-remset-insert",
        "remembered-set insertion without the lock",
        "remset-complete",
        "testbed/heap/remembered_set.py",
        True,
    ),
    Fault(
        "store-buffer-overflow-drop",
        "overflow drops entries instead of flushing",
        "remset-complete",
        "testbed/heap/store_buffer.py",
        True,
    ),
    Fault(
        "early-scavenge",
        "the initiator starts before the last running mutator arrived",
        "world-stopped",
        "testbed/runtime/safepoint.py",
        True,
    ),
    Fault(
        "resume-before-workers-done",
        "mutators resume while scavenger tasks still run",
        "world-stopped",
        "testbed/gc/scavenger.py",
        True,
    ),
    Fault(
        "no-poll-in-deopt",
        "deopt entry skips the safepoint poll",
        "world-stopped",
        "testbed/deopt/deoptimizer.py",
        True,
    ),
    Fault(
        "racy-forwarding",
        "forwarding installed by check-then-set instead of CAS",
        "forwarding-unique",
        "testbed/gc/evacuator.py",
        True,
    ),
    Fault(
        "unlocked-steal",
        "a worker steals from the global pool without the lock",
        "remset-complete / remset-precise / no-from-space-refs",
        "testbed/gc/worklist.py",
        True,
    ),
    Fault(
        "promote-without-remset",
        "promoted objects' young fields are not recorded",
        "remset-complete",
        "testbed/gc/evacuator.py",
        True,
    ),
    Fault(
        "missing-barrier-in-materialize",
        "materialized young values stored without the barrier",
        "remset-complete",
        "testbed/deopt/deoptimizer.py",
        True,
    ),
    Fault(
        "unlocked-weak-unlink",
        "weak-list unlink races with a concurrent append",
        "weak-list-wellformed / weak-list-complete",
        "testbed/heap/code.py",
        True,
    ),
    Fault(
        "unlink-before-marking-done",
        "weak-list entries unlinked and released before marking finished",
        "frames-consistent / weak-list-cleared",
        "testbed/gc/mark_compact.py",
        True,
    ),
    Fault(
        "stale-frame-code",
        "the rebuilt frame still refers to the optimized code, which then dies",
        "frames-consistent / weak-list-cleared",
        "testbed/deopt/deoptimizer.py",
        True,
    ),
    Fault(
        "resume-without-disarm",
        "the resume clears the GC request but leaves the safepoint barrier armed",
        "safepoint-liveness",
        "testbed/runtime/safepoint.py",
        True,
    ),
)

_BY_NAME = {fault.name: fault for fault in FAULTS}


def validate_faults(names: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The names as a set; raises :class:`UnknownFault` naming the first bad one."""
    for name in sorted(names):
        fault = _BY_NAME.get(name)
        if fault is None:
            known = ", ".join(f.name for f in FAULTS if f.available)
            raise UnknownFault(f"unknown fault {name!r} (known: {known})")
        if not fault.available:
            raise UnknownFault(f"fault {name!r} needs the {fault.where.split(' (')[0]}, which this version lacks")
    return frozenset(names)
