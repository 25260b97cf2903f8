"""One bug, one bucket: after ``--shrink``, buckets whose racing pairs coincide are merged.

A bucket's signature is where the damage was *seen* (the invariant, the
operation of the thread that saw it): a symptom.  One race can be seen at
several places (a lost remembered-set slot at a pause start by a mutator,
or at the run's end by the main thread), and so open several buckets.
After shrinking, each bucket's trace is 1-minimal, and ``testbed explain``
names its racing pairs (:mod:`testbed.races`): the operation each
necessary preemption interrupted and the conflicting ones that ran before
it resumed.  Buckets with the same data racing pairs (by thread role
and operation kind, without ids or steps, and without the locks, condition
variables and safepoint flags that only set the race up:
:func:`testbed.races.pair_key`) race the same accesses: a later one is marked merged into the first
(``merged_into``), and keeps its own count and trace.  A bucket whose
trace has no racing pair (only timing preemptions, or none) merges with
nothing, and so does one whose shrink was cut before it was 1-minimal.
Merging costs one replay per bucket: a 1-minimal trace's preemptions are
all necessary (its shrink showed it), so none is run again without.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["merge_by_races", "merged"]


def merged(keys: dict[int, Hashable]) -> dict[int, int]:
    """Bucket number -> the first bucket (lowest number) with the same non-empty key, for every later one."""
    first: dict[Hashable, int] = {}
    into: dict[int, int] = {}
    for number in sorted(keys):
        key = keys[number]
        if not key:
            continue
        if key in first:
            into[number] = first[key]
        else:
            first[key] = number
    return into


def merge_by_races(buckets: Any, say: Callable[[str], None]) -> None:
    """Explain each shrunk bucket's trace, and mark the buckets whose racing pairs coincide."""
    from testbed.races import explain_races, pair_key
    from testbed.runtime import Config
    from testbed.traces import load_trace

    keys: dict[int, Hashable] = {}
    for bucket in buckets:
        if bucket.trace is None or not bucket.shrunk or not bucket.shrunk.get("minimal"):
            continue  # not shrunk to a 1-minimal trace: its preemptions are not all known necessary
        try:
            trace = load_trace(bucket.trace)
            _, races = explain_races(trace, Config.from_json(trace["config"]).replace(strategy="replay"), check=False)
        except Exception as error:  # a trace that cannot be explained merges with nothing
            bucket.shrunk["racing_pairs"] = {"error": str(error)}
            continue
        keys[bucket.number] = pair_key(races)
        bucket.shrunk["racing_pairs"] = [
            [who, kind, [list(o) for o in others]] for who, kind, others in keys[bucket.number]
        ]
    for number, into in merged(keys).items():
        buckets[number].merged_into = into
        say(f"bucket {number}: the same racing pairs as bucket {into}: merged into it (one bug, seen at two places)")
