"""Findings grouped into buckets by signature, the way ClusterFuzz groups crashes by their state.

A signature says what broke and how, never which run broke it: the
invariant; the violating operation (the kind of the last model event of
the thread that saw the violation, at or before its step); the kinds of
the other model events at the violation's own step (the moment it was
seen); the role of the
thread that saw it and the roles of every thread involved (``mutator``,
``scavenger worker``, ``sweeper``, ``main``: thread numbers are dropped);
and the first part of the message with every number and id replaced by
``N``.  Seeds, steps, object ids and thread numbers are not part of it, so
twenty findings of one bug are one bucket.

The model events *before* the violating step are deliberately not part of
it: a ``--fault unlocked-remset-insert`` campaign over every scenario
split its one bug into 14 buckets by the last three model events (what
other threads happened to do before the pause that found the missing
slot: a weak-list link, a guard failure, a sweep), and into 2 without them
(found at a pause start by a mutator, or at the run's end by the main thread).

Buckets are numbered in the order they open, which is schedule order (a
campaign records results in schedule order, also with worker processes),
so the same campaign numbers its buckets the same way.  Each bucket keeps
its smallest finding: the fewest preemptions, then the earliest step
(the fewest scheduling points before the violation); a tie keeps the
earlier schedule.  Free runs have no preemptions: the earliest step decides.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["Bucket", "Buckets", "Signature", "normalise_message", "role", "signature_of"]

_NUMBERED = re.compile(r"[-_]?\d+$")
_ROLES = {"mutator": "mutator", "scavenger": "scavenger worker", "sweeper": "sweeper", "MainThread": "main", "": "?"}
_IDS = re.compile(r"0x[0-9a-fA-F]+|\d+")


class _Violation(Protocol):
    invariant: str
    message: str
    step: int
    thread: str
    stacks: dict[str, list[str]]


class _Event(Protocol):
    step: int
    thread: str
    kind: str


class _Finding(Protocol):
    violation: Any
    scenario: str | None
    seed: int
    reproduce: str
    trace_path: str | None


def role(thread: str) -> str:
    """A thread's role: its name without the number (``mutator-3`` -> ``mutator``)."""
    base = _NUMBERED.sub("", thread)
    return _ROLES.get(base, base)


def normalise_message(message: str) -> str:
    """The first part of a message (the parts are ``; ``-separated examples), numbers and ids as ``N``."""
    return _IDS.sub("N", message.split("; ", 1)[0]).strip()


@dataclasses.dataclass(frozen=True)
class Signature:
    invariant: str
    #: kind of the last model event of the violating thread at or before the violation (``-``: none)
    operation: str
    #: kinds of the other model events at the violation's step (by any thread), in log order
    recent: tuple[str, ...]
    #: role of the thread that saw the violation
    thread: str
    #: roles of every thread involved (the violating one, the step's events', the stacks'), sorted
    roles: tuple[str, ...]
    message: str

    @property
    def key(self) -> str:
        """A short digest of the signature: the same bug has the same key in every campaign."""
        text = json.dumps(self.to_json(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def text(self) -> str:
        """One line: invariant, where, after what, on which roles, and the message."""
        at = self.operation if self.operation != "-" else "no model event"
        also = f" with {', '.join(self.recent)}" if self.recent else ""
        return f"{self.invariant} on {self.thread} at {at}{also} (roles {', '.join(self.roles)}): {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "invariant": self.invariant,
            "operation": self.operation,
            "recent": list(self.recent),
            "thread": self.thread,
            "roles": list(self.roles),
            "message": self.message,
        }


def signature_of(violation: _Violation, events: Sequence[_Event]) -> Signature:
    """The signature of ``violation`` from the run's model events."""
    operation = "-"
    moment: list[str] = []  # kinds at the violation's step, newest first
    roles = {role(violation.thread)} | {role(name) for name in violation.stacks}
    for event in reversed(events):  # the log is in append order; steps are (nearly) increasing
        if event.step > violation.step:
            continue
        if operation == "-" and event.thread == violation.thread:
            operation = event.kind
            roles.add(role(event.thread))
        elif event.step == violation.step:
            if event.kind not in moment:
                moment.append(event.kind)
            roles.add(role(event.thread))
        elif operation != "-":
            break
    return Signature(
        violation.invariant,
        operation,
        tuple(kind for kind in reversed(moment) if kind != operation),
        role(violation.thread),
        tuple(sorted(roles)),
        normalise_message(violation.message),
    )


@dataclasses.dataclass
class Bucket:
    """The findings of one signature: how many, the first, and the smallest."""

    number: int
    signature: Signature
    first_seed: int
    first_scenario: str | None
    #: the smallest finding so far (a :class:`testbed.campaign.results.Finding`)
    smallest: Any
    #: ``(preemptions, step)`` of the smallest finding
    size: tuple[int, int]
    count: int = 1
    #: the kept file of the smallest finding (``stress --out``), or None
    trace: str | None = None
    #: what ``--shrink`` did to the kept trace: before and after measures, or why it could not
    shrunk: dict[str, Any] | None = None
    #: after ``--shrink``: the earlier bucket whose racing pairs this one's coincide with (testbed.campaign.merge)
    merged_into: int | None = None
    #: the smallest finding's free trace (a free schedule's), the document pinning starts from
    free_trace: dict[str, Any] | None = dataclasses.field(default=None, repr=False)
    #: the kept free trace's file (``stress --out``), or None
    free_path: str | None = None
    #: what pinning did (:mod:`testbed.campaign.pins`): pinned, schedules, seconds, how, cut; None: not tried
    pin: dict[str, Any] | None = None
    #: the controlled trace that pinning found (None: not pinned)
    pinned_trace: dict[str, Any] | None = dataclasses.field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        smallest = self.smallest
        data: dict[str, Any] = {
            "bucket": self.number,
            "key": self.signature.key,
            "signature": self.signature.to_json(),
            "summary": self.signature.text(),
            "count": self.count,
            "first_seed": self.first_seed,
            "first_scenario": self.first_scenario,
            "smallest": {
                "seed": smallest.seed,
                "scenario": smallest.scenario,
                "preemptions": self.size[0],
                "step": self.size[1],
                "trace": self.trace,
                "reproduce": smallest.reproduce,
            },
        }
        if self.free_path is not None:
            data["smallest"]["free_trace"] = self.free_path
        if self.pin is not None:
            data["pin"] = self.pin
        if self.shrunk is not None:
            data["shrunk"] = self.shrunk
        if self.merged_into is not None:
            data["merged_into"] = self.merged_into
        return data


class Buckets:
    """The buckets of a campaign, in the order they opened."""

    def __init__(self) -> None:
        self.items: list[Bucket] = []
        self._by_key: dict[str, Bucket] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Any:
        return iter(self.items)

    def __getitem__(self, number: int) -> Bucket:
        """Bucket ``number`` (1-based, as shown)."""
        return self.items[number - 1]

    def add(self, finding: _Finding, events: Sequence[_Event], preemptions: int) -> tuple[Bucket, str]:
        """File ``finding``; returns its bucket and ``"opened"``, ``"smaller"`` (it is the new
        smallest) or ``"counted"``."""
        signature = signature_of(finding.violation, events)
        size = (preemptions, finding.violation.step)
        bucket = self._by_key.get(signature.key)
        if bucket is None:
            bucket = Bucket(len(self.items) + 1, signature, finding.seed, finding.scenario, finding, size)
            self.items.append(bucket)
            self._by_key[signature.key] = bucket
            return bucket, "opened"
        bucket.count += 1
        if size < bucket.size:
            bucket.smallest, bucket.size = finding, size
            return bucket, "smaller"
        return bucket, "counted"

    def to_json(self) -> list[dict[str, Any]]:
        return [bucket.to_json() for bucket in self.items]
