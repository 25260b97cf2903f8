"""The standard workload program: a seeded loop of heap operations.

Stands in for the JavaScript a V8 mutator runs: allocation of short-lived
and pretenured objects, field stores and loads (old hosts receiving young
values is what feeds the write barrier), handle scopes opened and closed,
frames entered and left, global handles written, and now and then a
blocking call during which the thread is parked.  Each loop iteration ends
at a back-edge, where the thread polls for a pending GC.

Every choice comes from ``m.rng``, which is derived from the run seed and
the mutator's index, never from time or scheduling.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from testbed.heap import Handle, Map

if TYPE_CHECKING:
    from testbed.runtime.mutator import Mutator

__all__ = ["standard_program"]

#: scopes a program nests at most (the outermost is opened for it)
MAX_SCOPE_DEPTH = 4
MAX_FRAME_DEPTH = 3
#: objects in one folded allocation (a literal nested this deep)
FOLDED_GROUP = 2


def standard_program(m: Mutator) -> None:
    config = m.isolate.config
    rng = m.rng
    names, weights = zip(*config.mix.items(), strict=True)
    cumulative = list(itertools.accumulate(weights))
    # handles[d] are the handles made in the scope at depth d
    handles: list[list[Handle]] = [[]]
    optimized_calls = 0

    def pick() -> Handle | None:
        live = [h for scope in handles for h in scope]
        return rng.choice(live) if live else None

    for _ in range(config.ops):
        m.poll()
        op = rng.choices(names, cum_weights=cumulative)[0]
        if op == "alloc" or op == "alloc_old":
            if len(handles[-1]) >= config.scope_handles:
                if len(handles) > 1:
                    m.close_scope()
                    handles.pop()
                else:
                    # Outermost scope full: start it afresh (all its handles die).
                    m.close_scope()
                    m.open_scope()
                    handles[0] = []
            handle = m.alloc(rng.randint(1, config.max_fields), old=op == "alloc_old")
            handles[-1].append(handle)
        elif op == "store" or op == "store_smi":
            host = pick()
            if host is None:
                continue
            value = rng.randint(-1000, 1000) if op == "store_smi" else pick()
            m.store(host, rng.randrange(len(host.get().fields)), value)
        elif op == "barrier_store":
            live = [h for scope in handles for h in scope]
            old = [h for h in live if not h.get().page.young]
            young = [h for h in live if h.get().page.young]
            if old and young:
                host = rng.choice(old)
                m.store(host, rng.randrange(len(host.get().fields)), rng.choice(young))
        elif op == "load":
            host = pick()
            if host is None:
                continue
            value = m.load(host, rng.randrange(len(host.get().fields)))
            if isinstance(value, Handle):
                handles[-1].append(value)
        elif op == "open_scope":
            if len(handles) < MAX_SCOPE_DEPTH:
                m.open_scope()
                handles.append([])
        elif op == "close_scope":
            if len(handles) > 1:
                m.close_scope()
                handles.pop()
        elif op == "frame":
            if m.frames and m.frames[-1].code is not None:
                continue  # a call's activation ends by returning (op "ret")
            if m.frames and (len(m.frames) >= MAX_FRAME_DEPTH or rng.random() < 0.5):
                m.leave_frame()
            else:
                m.enter_frame(rng.randint(1, 4))
                value = pick()
                if value is not None:
                    m.frame_store(rng.randrange(len(m.frames[-1].slots)), value)
        elif op == "set_global":
            if config.globals_per_mutator:
                m.set_global(rng.randrange(config.globals_per_mutator), pick())
        elif op == "park":
            with m.parked():
                pass
        elif op == "call":
            if len(m.frames) < MAX_FRAME_DEPTH + 2:
                frame = m.call_optimized(rng.randrange(config.functions))
                if frame.code is not None and getattr(frame.code, "optimized", False):
                    optimized_calls += 1
                    if config.deopt_every_n_times and optimized_calls % config.deopt_every_n_times == 0:
                        m.fail_guard()
        elif op == "ret":
            if m.frames and m.frames[-1].code is not None:
                m.return_from_call()
        elif op == "fail_guard":
            m.fail_guard()
        elif op == "normalize":
            live = [h for scope in handles for h in scope if h.get().map is Map.PLAIN]
            if live:
                m.normalize(rng.choice(live))
        elif op == "alloc_folded" or op == "alloc_folded_old":
            if len(handles[-1]) + FOLDED_GROUP > config.scope_handles:
                # As for alloc: a full scope closes (the outermost starts afresh).
                m.close_scope()
                if len(handles) > 1:
                    handles.pop()
                else:
                    m.open_scope()
                    handles[0] = []
            young = [h for scope in handles for h in scope if h.get().page.young]
            # The literal's innermost value: the youngest object this thread holds.
            value = young[-1] if young else rng.randint(-1000, 1000)
            group = m.alloc_folded(FOLDED_GROUP, rng.randint(1, config.max_fields), op == "alloc_folded_old", value)
            handles[-1].extend(group)
        elif op == "json_object":
            if len(handles[-1]) >= config.scope_handles:
                m.close_scope()  # as for alloc: a full scope closes (the outermost starts afresh)
                if len(handles) > 1:
                    handles.pop()
                else:
                    m.open_scope()
                    handles[0] = []
            count = rng.randint(1, config.max_fields)
            handles[-1].append(m.build_json_object([rng.randint(-1000, 1000) for _ in range(count)]))
