"""Run configuration: the knobs of one run of the model.

The fields mirror V8 flags where one exists: ``gc_interval`` is
``--gc-interval`` (a GC every N allocations), ``new_space_pages`` bounds
``--max-semi-space-size``, ``store_buffer_capacity`` the historic
``StoreBuffer::kStoreBufferSize``.  Every value is checked on construction;
a bad one raises :class:`ConfigError` naming the field, which the CLI turns
into a one-line error and exit status 2.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testbed import validate
from testbed.faults import fault_names
from testbed.validate import ConfigError

if TYPE_CHECKING:
    from testbed.runtime.mutator import Mutator

__all__ = ["Config", "ConfigError", "Mix", "Program", "load_program", "program_importable", "program_reference"]


#: more OS threads than this only measure the interpreter, not the model
MAX_MUTATORS = 256


#: what ``Config.program`` holds: a workload function, or a reference to one
Program = Callable[["Mutator"], None] | str


@dataclasses.dataclass(frozen=True)
class Mix:
    """Relative weights of the standard workload's operations."""

    alloc: int = 30
    alloc_old: int = 4
    store: int = 24
    #: a store of a young value into an old host (the write barrier's slow path)
    barrier_store: int = 4
    store_smi: int = 4
    load: int = 12
    open_scope: int = 4
    close_scope: int = 4
    frame: int = 4
    set_global: int = 3
    park: int = 1
    #: call a function (an activation of interpreter or optimized code)
    call: int = 0
    #: return from the innermost call (lazy deopt first if its code was marked)
    ret: int = 0
    #: a speculative guard in the innermost optimized activation fails
    fail_guard: int = 0
    #: migrate a live plain object to dictionary mode (its in-object words stop being tagged)
    normalize: int = 0
    #: a nested literal from optimized code: a folded young allocation, barrier-free initializing stores
    alloc_folded: int = 0
    #: the same literal from a pretenured allocation site (old space)
    alloc_folded_old: int = 0
    #: ``JSON.parse`` builds a pretenured object of heap-number fields through one ByteArray (V8's mutable double buffer)
    json_object: int = 0

    def items(self) -> list[tuple[str, int]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]


def _positive(name: str, value: object, minimum: int = 1) -> None:
    validate.integer(name, value, minimum)


def _number(name: str, value: object, low: float, high: float | None, open_low: bool = False) -> None:
    validate.number(name, value, low, high, open_low=open_low)


def _check_mix(mix: object) -> None:
    if not isinstance(mix, Mix):
        raise ConfigError(f"mix must be a testbed.Mix, got {mix!r}")
    for field, weight in mix.items():
        validate.integer(f"mix.{field}", weight)
    if not any(weight for _, weight in mix.items()):
        raise ConfigError("mix weights must be >= 0 and not all zero")


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that decides what a run does, apart from thread timing."""

    #: the named scenario whose defaults these are (``testbed scenarios``), or None:
    #: no scenario, this class's own defaults
    scenario: str | None = None
    seed: int = 0
    strategy: str = "free"
    faults: frozenset[str] = frozenset()
    #: mutator OS threads
    mutators: int = 4
    #: scavenger worker threads; 0 scavenges serially on the initiating mutator
    scavenger_workers: int = 2
    #: functions the standard program calls (shared by all mutators)
    functions: int = 4
    #: the call that first runs optimized code (counted again from 0 after a deopt)
    optimize_after: int = 3
    #: force an eager deopt every N calls of optimized code; 0 disables (``--deopt-every-n-times``)
    deopt_every_n_times: int = 0
    #: a mark-compact after every N scavenges; 0 disables
    mark_compact_every: int = 0
    #: sweep after a mark-compact on a background thread while mutators run
    concurrent_sweeping: bool = False
    #: sweeping threads with ``concurrent_sweeping`` (the first also retires the weak list);
    #: with more than one, "sweeping done" is Go's count of drained list and active sweepers
    sweeper_threads: int = 1
    #: translations also capture arrays, materialized in two phases through
    #: old-space ByteArray storage (V8's ``TranslatedState``)
    captured_arrays: bool = False
    #: operations each mutator's standard program performs
    ops: int = 1500
    new_space_pages: int = 4
    page_words: int = 512
    lab_words: int = 32
    store_buffer_capacity: int = 64
    #: objects a scavenger task keeps locally before it publishes the older half to the
    #: shared pool.  V8's scavenger segments hold 256 entries (``kCopiedListSegmentSize``,
    #: src/heap/scavenger.h; 64 in its first parallel scavenger) for heaps of many
    #: thousands of objects; 8 keeps the scenarios' heaps of a few hundred publishing
    #: and stealing
    worklist_segment: int = 8
    #: a scavenge every N allocations of one mutator; 0 disables (``--gc-interval``)
    gc_interval: int = 0
    max_fields: int = 4
    #: handles a scope holds before the workload closes it
    scope_handles: int = 24
    globals_per_mutator: int = 4
    mix: Mix = Mix()
    #: controlled ``random``: probability of a preemption at a scheduling point
    switch_probability: float = 0.1
    #: controlled ``pct``: the bug depth d (d - 1 priority change points)
    pct_depth: int = 3
    #: controlled ``pct``: the scheduling points its change points are drawn from;
    #: 0 measures it: the step count of a probe run of the same config that never
    #: preempts (``testbed.run`` records the measured value here)
    pct_horizon: int = 0
    #: controlled mode: scheduling points before the run is a livelock
    max_steps: int = 2_000_000
    #: free mode: probability of yielding the GIL at a scheduling point
    yield_probability: float = 0.05
    #: free mode: ``sys.setswitchinterval`` while the run is active (None: leave it)
    switch_interval: float | None = 5e-5
    #: free mode: seconds a wait may last with no thread making progress (passing a
    #: scheduling point) before it is a safepoint-liveness violation
    wait_timeout: float = 10.0
    #: seconds the whole run may last before it is a safepoint-liveness violation,
    #: unless threads still pass points (then it goes on, see timeout_cap)
    run_timeout: float = 120.0
    #: hard cap, in multiples of wait_timeout (a wait) or run_timeout (the run), on
    #: how far progress by other threads may extend a timeout
    timeout_cap: float = 6.0
    #: a custom workload ``fn(m: Mutator)``, or a reference to one
    #: (``"module:function"``, ``"path/to/file.py:function"``; see :func:`load_program`);
    #: None runs the standard program
    program: Program | None = None
    #: JS threads enter the isolate through its ``v8::Locker`` (testbed.runtime.locker):
    #: only the holder runs, a blocking region (``m.parked()``) is a ``v8::Unlocker`` that
    #: archives the thread with its frames, and the deoptimizer patches archived stacks too
    locker: bool = False
    #: optimized code embeds (weakly) the object it was specialized on; without ``locker``
    #: the deoptimizer then patches every thread's activations of marked code at a
    #: safepoint before it clears them (HotSpot's mark, then deoptimize all marked)
    embedded_objects: bool = False
    #: 0: each old page is one remembered-set item.  N > 0: .NET's card marking with
    #: stealing: scavenger tasks claim chunks of N slot-set cells (32 slots each), clear
    #: the slots they no longer need by range and then the summary ("card bundle") bits
    #: of cells left empty; an insertion finding its bit set writes nothing
    card_chunk_cells: int = 0
    #: invariants whose violations this run does not report (the checker still
    #: evaluates them): ``bench/ablation.py`` switches the protocol-level checks
    #: off to show that a fault is also caught by its damage to the heap
    disabled_invariants: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.scenario is not None:
            # Its form only: the catalogue of scenarios (testbed.scenarios) builds
            # Configs, so it sits above this layer and refuses an unknown name
            # when the config runs (testbed.run) or is read from a trace.
            validate.name("scenario", self.scenario)
        validate.integer("seed", self.seed)
        validate.strategy(self.strategy)
        object.__setattr__(self, "faults", fault_names(self.faults))
        if isinstance(self.program, str):
            object.__setattr__(self, "program", _normalized_reference(self.program))
        else:
            validate.program(self.program)
        _positive("mutators", self.mutators)
        if self.mutators > MAX_MUTATORS:
            raise ConfigError(f"mutators must be at most {MAX_MUTATORS}, got {self.mutators}")
        _positive("ops", self.ops, 0)
        _positive("scavenger_workers", self.scavenger_workers, 0)
        _positive("functions", self.functions)
        _positive("optimize_after", self.optimize_after)
        _positive("deopt_every_n_times", self.deopt_every_n_times, 0)
        _positive("mark_compact_every", self.mark_compact_every, 0)
        validate.boolean("concurrent_sweeping", self.concurrent_sweeping)
        _positive("sweeper_threads", self.sweeper_threads)
        if self.sweeper_threads > 8:
            raise ConfigError(f"sweeper_threads must be at most 8, got {self.sweeper_threads}")
        validate.boolean("captured_arrays", self.captured_arrays)
        if self.scavenger_workers > 16:
            raise ConfigError(f"scavenger_workers must be at most 16, got {self.scavenger_workers}")
        _positive("new_space_pages", self.new_space_pages)
        _positive("page_words", self.page_words, 64)
        _positive("lab_words", self.lab_words, 8)
        _positive("store_buffer_capacity", self.store_buffer_capacity)
        _positive("worklist_segment", self.worklist_segment)
        _positive("gc_interval", self.gc_interval, 0)
        _positive("max_fields", self.max_fields)
        _positive("scope_handles", self.scope_handles, 2)
        _positive("globals_per_mutator", self.globals_per_mutator, 0)
        if self.lab_words > self.page_words:
            raise ConfigError(f"lab_words ({self.lab_words}) exceeds page_words ({self.page_words})")
        if 1 + self.max_fields > self.lab_words:
            raise ConfigError(f"max_fields ({self.max_fields}) does not fit a LAB of {self.lab_words} words")
        _number("yield_probability", self.yield_probability, 0.0, 1.0)
        _number("switch_probability", self.switch_probability, 0.0, 1.0)
        _positive("pct_depth", self.pct_depth)
        _positive("pct_horizon", self.pct_horizon, 0)
        _positive("max_steps", self.max_steps)
        if self.switch_interval is not None:
            _number("switch_interval", self.switch_interval, 0.0, None, open_low=True)
        _number("wait_timeout", self.wait_timeout, 0.0, None, open_low=True)
        _number("run_timeout", self.run_timeout, 0.0, None, open_low=True)
        _number("timeout_cap", self.timeout_cap, 1.0, None)
        _check_mix(self.mix)
        validate.boolean("locker", self.locker)
        validate.boolean("embedded_objects", self.embedded_objects)
        _positive("card_chunk_cells", self.card_chunk_cells, 0)
        object.__setattr__(
            self, "disabled_invariants", validate.invariant_names(self.disabled_invariants, "disabled_invariants")
        )

    def replace(self, **changes: Any) -> Config:
        _known_fields(changes, "config field")
        return dataclasses.replace(self, **changes)

    @property
    def program_reference(self) -> str | None:
        """The program as a reference string (None: the standard program); see :func:`program_reference`."""
        return None if self.program is None else program_reference(self.program)

    def program_function(self) -> Callable[[Mutator], None] | None:
        """The program to run (None: the standard program), importing a reference."""
        return None if self.program is None else load_program(self.program)

    def to_json(self) -> dict[str, Any]:
        """The config as JSON; a program is written as its reference (:func:`program_reference`)."""
        program = self.program_reference
        data = dataclasses.asdict(dataclasses.replace(self, program=None))
        data["faults"] = sorted(self.faults)
        data["disabled_invariants"] = sorted(self.disabled_invariants)
        data["program"] = program
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Config:
        """The Config ``to_json`` wrote; a program comes back as its reference (imported when run)."""
        if not isinstance(data, dict):
            raise ConfigError("config must be a JSON object")
        _known_fields(data, "config field")
        values = dict(data)
        if values.get("program") is not None and not isinstance(values["program"], str):
            raise ConfigError(
                f"config program must be a 'module:function' reference or null, got {values['program']!r}"
            )
        if "mix" in values:
            mix = values["mix"]
            if not isinstance(mix, dict):
                raise ConfigError(f"mix must be an object of operation weights, got {mix!r}")
            _known_fields(mix, "mix weight", Mix)
            values["mix"] = Mix(**mix)
        for field in ("faults", "disabled_invariants"):
            if field in values and not isinstance(values[field], list):
                raise ConfigError(f"{field} must be a list of names, got {values[field]!r}")
        return cls(**values)


def _known_fields(data: dict[str, Any], what: str, kind: type = Config) -> None:
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(str(key) for key in set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {what} {unknown[0]!r}")


# -- program references ---------------------------------------------------------------

#: module names of program files imported by path: this prefix and a hash of the absolute path
_FILE_MODULE_PREFIX = "_testbed_program_"


def _split_reference(reference: str) -> tuple[str, str]:
    """``(target, qualified name)`` of ``"target:name"``; the target is a module or a ``.py`` file."""
    target, colon, name = reference.rpartition(":")
    if not colon or not target or not name or not all(part for part in name.split(".")):
        raise ConfigError(
            f"program reference must be 'module:function' or 'path/to/file.py:function', got {reference!r}"
        )
    return target, name


def _is_file_target(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target


def _normalized_reference(reference: str) -> str:
    """The reference with a file target made absolute (against the current directory), so it
    names the same file from any directory a trace is replayed in."""
    target, name = _split_reference(reference)
    if _is_file_target(target):
        target = os.path.abspath(target)
    return f"{target}:{name}"


def _file_module_name(path: str) -> str:
    """The stable module name a program file is imported under (one module per absolute path)."""
    return _FILE_MODULE_PREFIX + hashlib.sha1(path.encode()).hexdigest()[:16]


def _import_file(path: str) -> Any:
    name = _file_module_name(path)
    module = sys.modules.get(name)
    if module is not None:
        return module
    if not Path(path).is_file():
        raise ConfigError(f"no such file {path!r}")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    # Like ``python FILE``: the file's directory is on the path, for its own imports.
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_program(program: Program) -> Callable[[Mutator], None]:
    """The workload function ``program`` names (a function is returned as it is).

    A reference is ``"module:function"``, imported like ``python -c "import module"``
    would (``sys.path``, ``PYTHONPATH``), or ``"path/to/file.py:function"``, the file
    imported under a name derived from its absolute path (its directory is put on
    ``sys.path`` first, as ``python path/to/file.py`` does); ``function`` may be a
    dotted path (``Class.method``).  Raises :class:`ConfigError` naming the reference
    when it cannot be imported or is not callable.
    """
    if not isinstance(program, str):
        return program
    reference = _normalized_reference(program)
    target, name = _split_reference(reference)
    if "<" in name:
        raise ConfigError(
            f"program {reference!r} is a local function or lambda, which cannot be imported: "
            "pass the function itself, e.g. testbed.replay(TRACE, program=fn)"
        )
    try:
        module = _import_file(target) if _is_file_target(target) else importlib.import_module(target)
    except ConfigError as error:
        raise ConfigError(f"cannot import program {reference!r}: {error}") from None
    except ModuleNotFoundError as error:
        raise ConfigError(
            f"cannot import program {reference!r}: {error} (is its directory on sys.path, e.g. PYTHONPATH=.?)"
        ) from None
    except Exception as error:  # whatever the user's module raised while importing
        raise ConfigError(f"cannot import program {reference!r}: {type(error).__name__}: {error}") from None
    value: Any = module
    for part in name.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ConfigError(f"cannot import program {reference!r}: {target} has no attribute {name!r}") from None
    if not callable(value):
        raise ConfigError(f"program {reference!r} is not callable (a {type(value).__name__})")
    return value


def _on_sys_path(module_name: str, file: str) -> bool:
    """Whether importing ``module_name`` from ``sys.path`` finds ``file``."""
    parts = module_name.split(".")
    target = Path(file).resolve()
    for entry in sys.path:
        base = Path(entry or ".").resolve().joinpath(*parts)
        if target in (base.with_suffix(".py"), base / "__init__.py"):
            return True
    return False


def program_reference(program: Program) -> str:
    """The reference a trace records for ``program`` (a reference is returned normalized).

    A function of a top-level module or of a file (``__main__``, a file
    imported by path, a test module) is ``"/absolute/file.py:qualname"``, which
    imports from any directory; one of a package's module that ``sys.path``
    finds is ``"package.module:qualname"`` (relative imports need the
    package).  A local function or a lambda gets a reference too (its
    qualified name holds ``<locals>`` or ``<lambda>``) that names it but
    cannot be imported: replay it with ``program=`` from Python.
    """
    if isinstance(program, str):
        return _normalized_reference(program)
    module_name = getattr(program, "__module__", None) or "?"
    qualname = getattr(program, "__qualname__", None) or f"<{type(program).__name__}>"
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if file is None or "<" in qualname:
        return f"{module_name}:{qualname}"
    if "." in module_name and _on_sys_path(module_name, file):
        return f"{module_name}:{qualname}"
    return f"{os.path.abspath(file)}:{qualname}"  # also __main__ and files imported by path


def program_importable(program: Program) -> bool:
    """Whether ``program`` can be found again from its reference in another process.

    A reference (a string) is taken to be importable (:func:`load_program` says
    otherwise when it is not); a function is when it is reachable by its
    qualified name from its module, i.e. not a local function or a lambda.
    """
    if isinstance(program, str):
        return "<" not in program
    reference = program_reference(program)
    if "<" in reference:
        return False
    value: Any = sys.modules.get(getattr(program, "__module__", None) or "?")
    for part in reference.rpartition(":")[2].split("."):
        value = getattr(value, part, None)
    return value is program
