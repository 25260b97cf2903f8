"""testbed: a real-thread concurrency testbed for a V8-style runtime's
deoptimizer, parallel scavenger, safepoints, store buffers, remembered set
and weak list of deoptimized code.

The public API is this namespace: :class:`Config`, :func:`run`,
:func:`stress`, :func:`replay` and :func:`shrink` (of a trace file),
:func:`pin` (a free run's trace to a controlled one), and
the catalogues.  Layers below (``testbed.sched``,
``heap``, ``runtime``, ``gc``, ``check``) are importable for readers and
custom workloads, but only what is re-exported here is a contract.
"""

from loguru import logger

# The module testbed.shrink first: importing it binds the name ``testbed.shrink``,
# which the function testbed.shrink (imported below) then takes over for good.
import testbed.shrink as _shrink_module  # noqa: F401  (imported for the binding order)
from testbed._version import __version__
from testbed.api import STRATEGIES, RunResult, pin, replay, reproduce_command, run, shrink
from testbed.campaign.driver import Finding, StressResult, stress
from testbed.check import INVARIANTS
from testbed.faults import FAULTS
from testbed.runtime import Config, ConfigError, Mix, Mutator
from testbed.scenarios import DEFAULT_SCENARIO, SCENARIOS, scenario_config
from testbed.sched import ReplayDivergedError, TraceError, Violation

# A library stays quiet unless its user asks; the CLI enables this.
logger.disable("testbed")

__all__ = [
    "DEFAULT_SCENARIO",
    "FAULTS",
    "INVARIANTS",
    "SCENARIOS",
    "STRATEGIES",
    "Config",
    "ConfigError",
    "Finding",
    "Mix",
    "Mutator",
    "ReplayDivergedError",
    "RunResult",
    "StressResult",
    "TraceError",
    "Violation",
    "__version__",
    "pin",
    "replay",
    "reproduce_command",
    "run",
    "scenario_config",
    "shrink",
    "stress",
]
