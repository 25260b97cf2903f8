"""Runtime layer: the isolate, mutator threads, frames, the safepoint
protocol and the standard workload program."""

from testbed.runtime.config import (
    Config,
    ConfigError,
    Mix,
    Program,
    load_program,
    program_importable,
    program_reference,
)
from testbed.runtime.events import Event, EventLog
from testbed.runtime.frames import Frame
from testbed.runtime.isolate import Isolate, derive_seed
from testbed.runtime.mutator import HeapExhausted, Mutator, Value
from testbed.runtime.observer import Collector, Deoptimizer, FullCollector, Observer
from testbed.runtime.safepoint import RunAborted, Safepoint, ThreadState
from testbed.runtime.stats import RunStats
from testbed.runtime.workload import standard_program

__all__ = [
    "Collector",
    "Config",
    "Deoptimizer",
    "Event",
    "EventLog",
    "FullCollector",
    "ConfigError",
    "Frame",
    "HeapExhausted",
    "Isolate",
    "Mix",
    "Mutator",
    "Observer",
    "RunAborted",
    "RunStats",
    "Safepoint",
    "ThreadState",
    "Value",
    "Program",
    "derive_seed",
    "load_program",
    "program_importable",
    "program_reference",
    "standard_program",
]
