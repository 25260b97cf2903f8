"""Named scenarios: workload mixes and heap shapes that aim at one race each.

A scenario is a function from (seed, faults) to a :class:`Config`; users'
own scenarios are just Configs (``Config.scenario`` None, or the name of the
scenario whose defaults they start from).  ``waltz``, the whole deopt-meets-scavenge
sequence, is the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from testbed.runtime import Config, ConfigError, Mix
from testbed.validate import name_list

__all__ = ["DEFAULT_SCENARIO", "SCENARIOS", "Scenario", "UnknownScenario", "scenario_config", "scenario_names"]


class UnknownScenario(ConfigError):
    """A scenario name that is not in :data:`SCENARIOS`."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    aims_at: str
    make: Callable[[], Config]


def _mixed() -> Config:
    return Config(scenario="mixed", store_buffer_capacity=16)


def _work_stealing() -> Config:
    # Four scavenger workers over large young graphs: handle scopes of 128
    # handles and a store-heavy mix give each root item a connected young
    # graph, so the task that claims it outgrows worklist_segment and publishes
    # half its local list again and again while tasks that ran out of items
    # steal from the pool.  A task returns as soon as it sees no work, so
    # steals overlap publishes only while some task still has a big graph:
    # a small new space (2 pages) and 2,000 operations make that happen in
    # many short scavenges rather than a few long ones.  Measured with
    # bench/ablation.py (unlocked-steal, pos, seeds 1..20): three workers,
    # 4 pages and 1,500 operations caught it in 12 of 20 schedules; this
    # shape in 18 of 20 (19 of seeds 21..40), at about twice the cost of a
    # clean schedule.
    return Config(
        scenario="work-stealing",
        store_buffer_capacity=16,
        scavenger_workers=4,
        new_space_pages=2,
        ops=2000,
        scope_handles=128,
        mix=Mix(
            alloc=30,
            alloc_old=2,
            store=40,
            barrier_store=4,
            store_smi=1,
            load=6,
            open_scope=2,
            close_scope=1,
            frame=2,
            set_global=3,
            park=1,
        ),
    )


def _store_buffer_storm() -> Config:
    # Many old hosts receiving young values, tiny store buffers: every few
    # stores a thread moves its buffer into the remembered set, so flushes of
    # different threads overlap all the time.
    return Config(
        scenario="store-buffer-storm",
        store_buffer_capacity=4,
        ops=1200,
        # LABs smaller than a 32-slot cell, so hosts of different threads
        # share remembered-set cells and small pages give many buckets.
        lab_words=8,
        page_words=256,
        max_fields=3,
        mix=Mix(
            alloc=24,
            alloc_old=10,
            store=6,
            barrier_store=40,
            store_smi=1,
            load=4,
            open_scope=2,
            close_scope=2,
            frame=2,
            set_global=2,
            park=1,
        ),
    )


def _waltz() -> Config:
    # Hot functions on every mutator, guards failing while scavenges are
    # pending, a mark-compact every third scavenge with concurrent sweeping.
    return Config(
        scenario="waltz",
        store_buffer_capacity=16,
        gc_interval=60,
        mark_compact_every=3,
        concurrent_sweeping=True,
        mix=Mix(
            alloc=24,
            alloc_old=4,
            store=16,
            barrier_store=4,
            store_smi=3,
            load=10,
            open_scope=3,
            close_scope=3,
            frame=2,
            set_global=2,
            park=1,
            call=12,
            ret=9,
            fail_guard=4,
        ),
    )


def _deopt_storm() -> Config:
    # Few functions, optimized on their first call, a forced deopt every second
    # optimized call: eager and lazy deopts of the same code on all threads.
    return Config(
        scenario="deopt-storm",
        functions=2,
        optimize_after=1,
        deopt_every_n_times=2,
        gc_interval=50,
        mark_compact_every=2,
        mix=Mix(
            alloc=16,
            alloc_old=2,
            store=8,
            barrier_store=2,
            store_smi=1,
            load=6,
            open_scope=2,
            close_scope=2,
            frame=1,
            set_global=1,
            park=1,
            call=20,
            ret=14,
            fail_guard=10,
        ),
    )


def _weak_list_churn() -> Config:
    # Many functions deoptimized and re-optimized, a mark-compact after every
    # scavenge, sweeping (and weak-list unlinking) concurrent with mutators
    # that keep appending deoptimized code.
    return Config(
        scenario="weak-list-churn",
        functions=8,
        optimize_after=1,
        gc_interval=40,
        mark_compact_every=1,
        concurrent_sweeping=True,
        mix=Mix(
            alloc=14,
            alloc_old=2,
            store=6,
            barrier_store=2,
            store_smi=1,
            load=4,
            open_scope=2,
            close_scope=2,
            frame=1,
            set_global=1,
            park=1,
            call=22,
            ret=18,
            fail_guard=12,
        ),
    )


def _locker_deopt() -> Config:
    # Threads take turns through the isolate's Locker and leave it often
    # (Unlocker) with activations of the same two optimized functions on
    # their stacks; forced deopts mark that code while other threads are
    # archived; a mark-compact after every scavenge frees what marked code
    # embedded, and the concurrent sweeper frees it while threads run.
    return Config(
        scenario="locker-deopt",
        mutators=3,
        locker=True,
        embedded_objects=True,
        functions=2,
        optimize_after=1,
        deopt_every_n_times=3,
        gc_interval=30,
        mark_compact_every=1,
        concurrent_sweeping=True,
        ops=600,
        mix=Mix(
            alloc=12,
            alloc_old=2,
            store=6,
            barrier_store=2,
            store_smi=1,
            load=4,
            open_scope=2,
            close_scope=2,
            frame=1,
            set_global=1,
            park=10,
            call=20,
            ret=12,
            fail_guard=4,
        ),
    )


def _layout_and_folding() -> Config:
    # Old hosts receiving young values (recorded slots), then migrated to
    # dictionary mode; nested literals folded young or pretenured; small
    # store buffers that overflow between pauses, and frequent scavenges so
    # a stale slot meets the scavenger while its word still holds a young object.
    # Mark-compacts with a concurrent sweeper: the marker must follow a slow
    # object's dictionary and skip its untagged words, and the sweeper's
    # slot removals share the remembered set's lock with the layout changes'.
    return Config(
        scenario="layout-and-folding",
        store_buffer_capacity=8,
        gc_interval=40,
        mark_compact_every=4,
        concurrent_sweeping=True,
        ops=800,
        mix=Mix(
            alloc=20,
            alloc_old=10,
            store=8,
            barrier_store=20,
            store_smi=2,
            load=6,
            open_scope=2,
            close_scope=2,
            frame=2,
            set_global=2,
            park=1,
            normalize=6,
            alloc_folded=6,
            alloc_folded_old=4,
        ),
    )


def _sweeper_races() -> Config:
    # A mark-compact after every scavenge, swept concurrently over many small
    # old pages, while guards keep failing in code whose translations capture
    # arrays: the deoptimizer's ByteArray storage sits on pages the sweeper
    # has yet to reach, and the next scavenge comes while it still sweeps.
    # Collections every 10 allocations and twice the guard failures put more
    # deopt rewrites into each sweep: one pos schedule per seed caught
    # deopt-overwrites-during-sweep on 18/20 seeds with the protocol checks
    # off (10/20 with a collection every 30 allocations, 500 ops, half the
    # failures); 300 ops keep a clean run's cost about what it was.
    return Config(
        scenario="sweeper-races",
        ops=300,
        functions=2,
        optimize_after=1,
        deopt_every_n_times=2,
        captured_arrays=True,
        gc_interval=10,
        mark_compact_every=1,
        concurrent_sweeping=True,
        page_words=128,
        lab_words=16,
        mix=Mix(
            alloc=12,
            alloc_old=8,
            store=6,
            barrier_store=2,
            store_smi=1,
            load=4,
            open_scope=2,
            close_scope=2,
            frame=1,
            set_global=1,
            park=1,
            call=20,
            ret=14,
            fail_guard=20,
        ),
    )


def _deopt_mark_race() -> Config:
    # No Locker: four threads run activations of one function at once, its
    # code embeds an object, and every second optimized call fails a guard,
    # so two threads often deoptimize the same code together: one marks it
    # and waits for the world to stop (deoptimize all marked) while the other
    # finds it marked.  Rare GCs keep the safepoint free for those pauses.
    return Config(
        scenario="deopt-mark-race",
        mutators=4,
        embedded_objects=True,
        functions=1,
        optimize_after=1,
        deopt_every_n_times=2,
        gc_interval=80,
        ops=400,
        mix=Mix(
            alloc=10,
            alloc_old=2,
            store=6,
            barrier_store=2,
            store_smi=1,
            load=4,
            open_scope=2,
            close_scope=2,
            frame=1,
            set_global=1,
            park=1,
            call=20,
            ret=14,
            fail_guard=10,
        ),
    )


def _json_parse_sweep() -> Config:
    # JSON.parse building pretenured objects of heap numbers while a
    # concurrent sweep runs after every scavenge over small old pages: the
    # object allocated after each number buffer sometimes starts a
    # mark-compact, whose sweeper has the buffer's page still to sweep when
    # the parser trims the buffer.  Old-space churn keeps the free list
    # handing out ranges of low pages, which the sweeper reaches last.
    return Config(
        scenario="json-parse-sweep",
        ops=60,
        gc_interval=10,
        mark_compact_every=1,
        concurrent_sweeping=True,
        page_words=64,
        lab_words=8,
        mix=Mix(
            alloc=8,
            alloc_old=6,
            store=4,
            barrier_store=1,
            store_smi=1,
            load=10,
            open_scope=2,
            close_scope=2,
            frame=1,
            set_global=1,
            park=1,
            json_object=12,
        ),
    )


def _card_mark_stealing() -> Config:
    # .NET's card marking with stealing (dotnet/runtime#117968): chunks of one
    # 32-slot cell, so an old page of 256 words is eight chunks and four
    # scavenger tasks take neighbouring chunks at once.  LABs of 56 words (not
    # a multiple of 32) and objects of up to 25 words put hosts across chunk
    # edges, and 1,200 operations give many scavenges (bench/ablation.py,
    # pos: 18 of seeds 1..20 and 17 of 21..40; with 40-word LABs and 800
    # operations 11 and 11; with three tasks, 20-word LABs and 9-word
    # objects 2 of 10); old-to-young
    # stores dominate, into the few old hosts a scope of 8 handles keeps, and
    # many are overwritten (Smis) or outlive their target's youth before the
    # next scavenge, so tasks keep clearing runs of slots they no longer need
    # next to slots another task is clearing, and later stores land on the
    # same fields.
    return Config(
        scenario="card-mark-stealing",
        card_chunk_cells=1,
        scavenger_workers=4,
        store_buffer_capacity=8,
        page_words=256,
        lab_words=56,
        max_fields=24,
        scope_handles=8,
        gc_interval=20,
        ops=1200,
        mix=Mix(
            alloc=16,
            alloc_old=8,
            store=10,
            barrier_store=30,
            store_smi=8,
            load=4,
            open_scope=2,
            close_scope=2,
            frame=1,
            set_global=2,
            park=1,
        ),
    )


def _sweep_done_race() -> Config:
    # The sweeper-races workload with two sweeping threads: a mark-compact
    # after every scavenge waits until "sweeping is done", which the two
    # threads taking the last pages decide between them (golang/go#46500).
    return _sweeper_races().replace(scenario="sweep-done-race", sweeper_threads=2)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "mixed",
            "all mutator operations in a balanced mix, GC on new-space exhaustion",
            "safepoint protocol, scavenge correctness",
            _mixed,
        ),
        Scenario(
            "work-stealing",
            "four scavenger workers over large young graphs (128-handle scopes, a store-heavy mix) in a "
            "2-page new space, "
            "publishing and stealing worklist segments",
            "the scavenger's work-stealing worklist",
            _work_stealing,
        ),
        Scenario(
            "store-buffer-storm",
            "old-to-young stores dominate; store buffers of 4 entries overflow and flush constantly",
            "store buffers, remembered-set locking",
            _store_buffer_storm,
        ),
        Scenario(
            "waltz",
            "the whole sequence: hot functions, guards failing against pending scavenges, materialization, "
            "weak-list links, mark-compacts with concurrent sweeping",
            "deopt meets scavenge, end to end",
            _waltz,
        ),
        Scenario(
            "deopt-storm",
            "two functions optimized on their first call and deoptimized every second call on every thread; "
            "eager and lazy deopts",
            "deoptimizer, materialization barrier",
            _deopt_storm,
        ),
        Scenario(
            "weak-list-churn",
            "eight functions churned through optimize/deopt, a mark-compact after every scavenge, "
            "unlinking on the concurrent sweeper",
            "weak list locking and clearing",
            _weak_list_churn,
        ),
        Scenario(
            "locker-deopt",
            "three threads take turns through the isolate's v8::Locker, leaving it (Unlocker) with optimized "
            "frames on their stacks; deopts mark code other, archived threads still run; optimized code "
            "embeds objects weakly",
            "deoptimizer across archived threads (v8:6563), invalidated embedded objects",
            _locker_deopt,
        ),
        Scenario(
            "layout-and-folding",
            "old objects with recorded slots migrated to dictionary mode; nested literals folded young and "
            "pretenured; store buffers of 8 entries overflowing between scavenges; mark-compacts with "
            "concurrent sweeping",
            "layout changes and recorded slots (crbug.com/666046), folded pretenured allocations (nodejs/node#5900)",
            _layout_and_folding,
        ),
        Scenario(
            "sweeper-races",
            "a concurrent sweep after every scavenge over small old pages, against deopts that materialize "
            "captured arrays through old-space ByteArray storage and against the next scavenge",
            "the sweeper against the deoptimizer's in-place rewrites and against the scavenger",
            _sweeper_races,
        ),
        Scenario(
            "deopt-mark-race",
            "four threads without the Locker run and deoptimize the same optimized code, which embeds an "
            "object; marking and deoptimizing all marked code (a safepoint that patches every stack) are "
            "separate steps",
            "two threads marking the same code for deoptimization (HotSpot JDK-8299074)",
            _deopt_mark_race,
        ),
        Scenario(
            "json-parse-sweep",
            "JSON.parse builds pretenured objects of heap numbers carved from one ByteArray each, trimmed to "
            "its header, while a concurrent sweep runs after every scavenge over small old pages",
            "the sweeper against an object trimmed in place (V8 v8:11837)",
            _json_parse_sweep,
        ),
        Scenario(
            "sweep-done-race",
            "sweeper-races with two sweeping threads: the next mark-compact, a scavenge and the deoptimizer's "
            "in-place rewrites wait for sweeping to be done (the list drained, no thread counted sweeping)",
            "two sweepers deciding that sweeping is done (Go golang/go#46500)",
            _sweep_done_race,
        ),
        Scenario(
            "card-mark-stealing",
            "four scavenger tasks claim one-cell chunks of small old pages (.NET card marking stealing) "
            "under a storm of old-to-young stores, many overwritten before the next scavenge",
            "scavenger tasks clearing remembered slots at chunk edges (.NET dotnet/runtime#117968)",
            _card_mark_stealing,
        ),
    )
}

DEFAULT_SCENARIO = "waltz"


def scenario_config(name: str | None, **changes: Any) -> Config:
    """The scenario's Config with ``changes`` applied (seed, faults, knobs).

    ``None`` is no scenario: ``Config(**changes)``, the Config class's own defaults.
    """
    if name is None:
        return Config(**changes)
    scenario = SCENARIOS.get(name) if isinstance(name, str) else None
    if scenario is None:
        raise UnknownScenario(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    return scenario.make().replace(**changes)


def scenario_names(value: object, field: str = "scenarios") -> list[str]:
    """Known scenario names: one name, or a non-empty collection of them."""
    names = [value] if isinstance(value, str) else name_list(field, value, "scenario")
    if not names:
        raise ConfigError(f"{field} must name at least one scenario, got {value!r}")
    for item in names:
        if item not in SCENARIOS:
            raise UnknownScenario(f"unknown scenario {item!r} (known: {', '.join(SCENARIOS)})")
    return names  # type: ignore[return-value]
