"""Calibrated stress: each schedule's knobs drawn from ranges a probe run measured.

After V8's numfuzz (``tools/testrunner/testproc/fuzzer.py``): an analysis
run of a test (``--fuzzer-gc-analysis``, ``--print-deopt-stress``) counts
its allocations and deopt points, and every fuzzed run of it then draws its
own ``--random-gc-interval`` (from the allocation count),
``--deopt-every-n-times`` (up to half the deopt points),
``--thread-pool-size`` (1 to 8) and ``--stress-compaction-random``, plus a
``--fuzzer-random-seed`` of its own.  Here the analysis run is one run of
the scenario's config that never preempts (deterministic, like PCT's
probe), made once the campaign's first round has run every scenario as it
is; it gives a :class:`Calibration`, and schedule ``i`` draws its knobs
from it with a random generator seeded by the campaign seed and ``i``
(:meth:`Calibration.draw`):

- ``gc_interval`` (``--random-gc-interval``): log-uniform between one
  collection per half and one per 64th of a mutator's probed allocations,
  or 0 (collect on exhaustion only) one time in four;
- ``store_buffer_capacity``: log-uniform from 1 to twice the scenario's, so
  that overflow flushes come and go;
- ``scavenger_workers`` (``--thread-pool-size``): 0 (serial) to 4;
- ``mutators``: 2 to the scenario's count plus 2, at most 8 (not for a
  custom program, which may be written for its number of threads);
- ``concurrent_sweeping`` (on or off), when the probe ran a mark-compact;
- ``deopt_every_n_times`` (``--deopt-every-n-times``): off half the time,
  else 2 to 32, when the probe optimized code (the model counts no deopt
  points, so the range is fixed rather than measured);
- ``pct_depth``: 2 to 5, for PCT schedules.

Each knob keeps the scenario's own value half the time (:data:`KEEP`), as
numfuzz turns each of its fuzzers on in only some runs.  The drawn values are fields of the schedule's config, so its trace and its
reproduce command rerun exactly that schedule; :data:`KNOBS` names them.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

from testbed.probes import probe_stats
from testbed.runtime.config import Config
from testbed.sched import derive_seed

__all__ = ["KEEP", "KNOBS", "Calibration", "calibration", "knob_rng"]

#: the Config fields a calibrated campaign draws per schedule
KNOBS = (
    "gc_interval",
    "store_buffer_capacity",
    "scavenger_workers",
    "mutators",
    "concurrent_sweeping",
    "deopt_every_n_times",
    "pct_depth",
)

#: the probability that a knob keeps the scenario's own value in a schedule
KEEP = 0.5

#: derive_seed stream of the knob draws (0, 2..7 are taken by runs and campaigns)
_KNOB_STREAM = 8


@dataclasses.dataclass(frozen=True)
class Calibration:
    """What the probe run of one scenario's config measured."""

    #: allocations of one mutator (the probe's total over its mutators)
    allocations_per_mutator: int
    #: whether the probe ran a mark-compact (so sweeping can be concurrent)
    mark_compacts: int
    #: code objects the probe optimized (so forced deopts mean something)
    optimizations: int

    @classmethod
    def from_stats(cls, config: Config, stats: dict[str, Any]) -> Calibration:
        mutators = max(1, config.mutators)
        return cls(
            allocations_per_mutator=int(stats.get("allocations", 0)) // mutators,
            mark_compacts=int(stats.get("mark_compacts", 0)),
            optimizations=int(stats.get("optimizations", 0)),
        )

    def draw(self, config: Config, rng: random.Random) -> Config:
        """``config`` with every knob of :data:`KNOBS` drawn from this calibration."""
        return config.replace(**self.knobs(config, rng))

    def knobs(self, config: Config, rng: random.Random) -> dict[str, Any]:
        """The drawn knob values (each draw consumes the generator in a fixed order).

        Each knob keeps the scenario's own value with probability
        :data:`KEEP`, as numfuzz enables each of its fuzzers in only some
        runs: a fault whose window one knob opens (concurrent sweeping, the
        mutator count) then still meets it in most schedules.
        """
        drawn: dict[str, Any] = {}
        allocations = max(self.allocations_per_mutator, 4)
        # One collection per 2 .. per 64 allocations' worth of a mutator's work.
        low, high = max(2, allocations // 64), max(2, allocations // 2)
        interval = _log_uniform(rng, low, high)
        drawn["gc_interval"] = 0 if rng.random() < 0.25 else interval
        drawn["store_buffer_capacity"] = _log_uniform(rng, 1, max(2, 2 * config.store_buffer_capacity))
        drawn["scavenger_workers"] = rng.randint(0, 4)
        mutators = rng.randint(2, min(8, max(2, config.mutators) + 2))
        if config.program is None:
            drawn["mutators"] = mutators
        sweeping = rng.random() < 0.5
        if self.mark_compacts:
            drawn["concurrent_sweeping"] = sweeping
        deopt = rng.randint(2, 32) if rng.random() < 0.5 else 0
        if self.optimizations:
            drawn["deopt_every_n_times"] = deopt
        depth = rng.randint(2, 5)
        if config.strategy in ("pct", "portfolio"):
            drawn["pct_depth"] = depth
        kept = [rng.random() < KEEP for _ in KNOBS]  # one coin per knob, drawn or not
        return {
            name: getattr(config, name) if keep else drawn[name]
            for name, keep in zip(KNOBS, kept, strict=True)
            if name in drawn
        }


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high], uniform in its logarithm (small values as likely as large ranges)."""
    if high <= low:
        return low
    return min(high, max(low, int(math.exp(rng.uniform(math.log(low), math.log(high + 1))))))


def knob_rng(seed: int, index: int) -> random.Random:
    """The generator schedule ``index`` of a campaign with ``seed`` draws its knobs from."""
    return random.Random(derive_seed(seed, _KNOB_STREAM, index))


def calibration(config: Config) -> Calibration:
    """The probe run of ``config``: one run that never preempts, measured.

    Deterministic (the same config always measures the same), like PCT's
    horizon probe; a probe that raises measures nothing, and the draws
    then use the floors of their ranges' derivations.
    """
    return Calibration.from_stats(config, probe_stats(config))
