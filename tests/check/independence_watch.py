"""Watch every call of a checked run; report what the checker called of what it checks.

The checker (``testbed.check``) must re-derive what it checks from raw data
and share no helper with the code under check: a collector bug living in a
helper both sides call would fool the checker exactly as it fools the
collector.  ``test_independence.py`` lints the sources for this; a lint
only sees spellings (``getattr(isolate, "root_areas")()``, ``walk =
page.objects; walk()``, a module alias slip past it).  This script sees
calls: it installs a profiler in every thread (``sys.setprofile`` and
``threading.setprofile``, before any model thread starts), and whenever a
*forbidden* function starts running (matched by its code object, however
it was reached) it walks the frame chain (``f_back``) and records a hit if
a frame of a ``testbed.check`` module is on it.

Forbidden (:func:`forbidden_code`) is enumerated from the modules, never
listed by hand: every function, method, property accessor and nested
function (lambdas, comprehensions) defined in

* the collectors: every module of ``testbed.gc``;
* the write barrier, its store buffers, the remembered set and its slot
  sets (``testbed.heap.write_barrier``, ``store_buffer``,
  ``remembered_set``, ``slot_set``);
* the layout helpers the collectors size and visit objects with
  (``testbed.heap.layout``, ``testbed.heap.object_size``) and the heap
  object's own accessors (``HeapObject``: ``forwardee``, ``is_dead``,
  ``size``, ``map``, ...) and ``poison``;
* the page and space walkers and allocators (``testbed.heap.pages``,
  ``spaces``, ``heap``): the verifier is read-only, so anything there is
  either a walker it must re-derive or a mutation it must not make;
* the weak list's code (``WeakCodeList`` in ``testbed.heap.code``);
* the isolate's root enumeration (every ``Isolate`` method whose name
  says ``root``).

:data:`ALLOWED` holds the plain data accessors the checker may still call
and why; it is empty: the checker reads attributes, and no accessor above
is a plain read of one.

What a profiler cannot see: a read of a plain attribute is no call, so
data the checker reads (``page.words``, ``slot_set.buckets``,
``store_buffer.entries``, the scavenger's ``active_tasks``) is judged by
review and by the source lint, not here.  Reading raw data is the rule;
which data the checker may trust is a separate question.

Usage: ``python independence_watch.py [--ops N] [--seed S] [--strategy
NAME] [--faults off|aimed|both] [--scenario NAME ...]``; prints one JSON
object (``hits``: forbidden calls under a checker frame; ``runs``: what
each run did).  Runs are small and controlled, so a rerun watches the same
calls.  Importable too: a test may monkeypatch the checker and call
:func:`main` in its own fresh interpreter.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import json
import pkgutil
import sys
import threading
from collections.abc import Iterator
from types import CodeType, FrameType
from typing import Any

import testbed
import testbed.gc
from testbed.runtime.isolate import Isolate

#: modules none of whose code the checker may run
WHOLE_MODULES: tuple[str, ...] = (
    *sorted(info.name for info in pkgutil.walk_packages(testbed.gc.__path__, "testbed.gc.")),  # every collector module
    "testbed.gc",
    "testbed.heap.write_barrier",
    "testbed.heap.store_buffer",
    "testbed.heap.remembered_set",
    "testbed.heap.slot_set",
    "testbed.heap.layout",
    "testbed.heap.object_size",
    "testbed.heap.pages",
    "testbed.heap.spaces",
    "testbed.heap.heap",
)
#: modules of which only the named top-level definitions are forbidden
PARTS: dict[str, tuple[str, ...]] = {
    "testbed.heap.code": ("WeakCodeList",),  # not Code: the checker reads code objects' attributes
    "testbed.heap.objects": ("HeapObject", "poison"),  # not Map/Kind: enum values the checker compares with
}
#: forbidden functions the checker may call anyway (qualified name -> why); none is needed
ALLOWED: dict[str, str] = {}

#: runs are tiny: a GC at least every this many allocations of a thread
GC_INTERVAL = 10
#: operations per mutator: a few scavenges and mark-compacts in every scenario
OPS = 40


def _module_codes(module_name: str, only: tuple[str, ...] | None = None) -> Iterator[tuple[str, CodeType]]:
    module = importlib.import_module(module_name)
    for name, value in sorted(vars(module).items()):
        if only is not None and name not in only:
            continue
        if getattr(value, "__module__", None) != module_name:
            continue  # imported from elsewhere; that module decides
        yield from _codes(module_name, value)


def _codes(module_name: str, value: Any, seen: frozenset[type] = frozenset()) -> Iterator[tuple[str, CodeType]]:
    """Code objects of a function, a class's members (accessors too) and what they nest."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, functools.cached_property):
        value = value.func
    if isinstance(value, property):
        for accessor in (value.fget, value.fset, value.fdel):
            if accessor is not None:
                yield from _codes(module_name, accessor, seen)
        return
    if inspect.isfunction(value):
        yield from _nested(module_name, inspect.unwrap(value).__code__)
    elif inspect.isclass(value) and value not in seen and value.__module__ == module_name:
        for member in vars(value).values():
            yield from _codes(module_name, member, seen | {value})


def _nested(module_name: str, code: CodeType) -> Iterator[tuple[str, CodeType]]:
    yield f"{module_name}.{code.co_qualname}", code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _nested(module_name, const)


def enumerate_code() -> dict[CodeType, str]:
    """Every code object of the forbidden modules and parts, by qualified name."""
    found: dict[CodeType, str] = {}
    for module_name in WHOLE_MODULES:
        found.update((code, name) for name, code in _module_codes(module_name))
    for module_name, names in PARTS.items():
        found.update((code, name) for name, code in _module_codes(module_name, names))
    # the isolate's root enumeration: every method whose name says it
    roots = [name for name in sorted(vars(Isolate)) if "root" in name and callable(getattr(Isolate, name))]
    for name in roots:
        found.update((code, qualname) for qualname, code in _codes(Isolate.__module__, vars(Isolate)[name]))
    return found


def forbidden_code() -> dict[CodeType, str]:
    """Every code object the checker must not run, by qualified name: :func:`enumerate_code` minus :data:`ALLOWED`."""
    return {code: name for code, name in enumerate_code().items() if name not in ALLOWED}


def _is_checker(frame: FrameType) -> bool:
    module = frame.f_globals.get("__name__", "")
    return module == "testbed.check" or module.startswith("testbed.check.")


class Watch:
    """The profile function: a hit is a forbidden code object starting under a checker frame."""

    def __init__(self, forbidden: dict[CodeType, str]) -> None:
        self._forbidden = forbidden
        # a cheap first filter: a file name's hash is cached, a code object's is not
        self._files = frozenset(code.co_filename for code in forbidden)
        self.run = ""
        #: (forbidden function, checker frame, thread, run); appended from any thread
        self.hits: list[tuple[str, str, str, str]] = []
        #: forbidden calls with no checker frame (the model's own): proof the watch was live
        #: (counted without a lock, so approximate)
        self.outside = 0

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code
        if code.co_filename not in self._files:
            return
        name = self._forbidden.get(code)
        if name is None:
            return
        caller = frame.f_back
        while caller is not None:
            if _is_checker(caller):
                where = f"{caller.f_globals['__name__']}.{caller.f_code.co_qualname}:{caller.f_lineno}"
                self.hits.append((name, where, threading.current_thread().name, self.run))
                return
            caller = caller.f_back
        self.outside += 1

    def install(self) -> None:
        threading.setprofile(self)
        sys.setprofile(self)

    def remove(self) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def configs(
    ops: int, seed: int, strategy: str, faults: str, scenarios: list[str], gc_interval: int = GC_INTERVAL
) -> Iterator[tuple[str, str | None, Any]]:
    """(scenario, fault, config) of every run: each scenario clean, then with each fault aimed at it, alone."""
    for name in scenarios or list(testbed.SCENARIOS):
        base = testbed.scenario_config(name)
        # A scenario's own GC interval is a few dozen allocations per thread;
        # runs this short need a GC more often to pass every verification point.
        small = {
            "seed": seed,
            "strategy": strategy,
            "ops": ops,
            "gc_interval": min(base.gc_interval or gc_interval, gc_interval),
        }
        if faults in ("off", "both"):
            yield name, None, testbed.scenario_config(name, **small)
        if faults in ("aimed", "both"):
            for fault in testbed.FAULTS:
                if fault.scenario == name and fault.available:
                    yield name, fault.name, testbed.scenario_config(name, faults=frozenset({fault.name}), **small)


def watch(runs: list[tuple[str, str | None, Any]]) -> dict[str, Any]:
    """Run each config under the watch; the hits, and what each run did."""
    # A thread started before the profile is installed would run unwatched.
    running = [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()]
    if running:
        raise SystemExit(f"independence_watch: threads already running, they would go unwatched: {running}")
    forbidden = forbidden_code()
    watcher = Watch(forbidden)
    done = []
    watcher.install()
    try:
        for scenario, fault, config in runs:
            watcher.run = scenario if fault is None else f"{scenario} with {fault}"
            result = testbed.run(config)
            stats = result.stats
            done.append(
                {
                    "scenario": scenario,
                    "fault": fault,
                    "violations": sorted({v.invariant for v in result.violations}),
                    "scavenges": stats["scavenges"],
                    "mark_compacts": stats["mark_compacts"],
                    "checks": stats["checks"],
                    "checks_by_invariant": stats["checks_by_invariant"],
                }
            )
    finally:
        watcher.remove()
    hits = [{"function": f, "checker": c, "thread": t, "run": r} for f, c, t, r in sorted(set(watcher.hits))]
    return {"forbidden": len(forbidden), "outside": watcher.outside, "hits": hits, "runs": done}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=OPS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--strategy", default="pos")
    parser.add_argument("--faults", choices=("off", "aimed", "both"), default="both")
    parser.add_argument("--scenario", action="append", default=[])
    parser.add_argument("--gc-interval", type=int, default=GC_INTERVAL)
    args = parser.parse_args(argv)
    runs = configs(args.ops, args.seed, args.strategy, args.faults, args.scenario, args.gc_interval)
    report = watch(list(runs))
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
