"""Seeds derived from seeds: one run seed fans out to every thread, strategy and schedule.

Lives in the lowest layer because the lowest layer already needs it
(:func:`testbed.sched.explore` derives each schedule's seed); the runtime
and everything above use the same function, so a seed means the same thing
at every level.
"""

from __future__ import annotations

__all__ = ["derive_seed"]

_MASK = 0xFFFFFFFFFFFFFFFF


def derive_seed(seed: int, *path: int) -> int:
    """A child seed from ``seed`` and a path of small integers (splitmix64 steps)."""
    value = seed & _MASK
    for part in path:
        value = (value + 0x9E3779B97F4A7C15 * (part + 1)) & _MASK
        value ^= value >> 30
        value = (value * 0xBF58476D1CE4E5B9) & _MASK
        value ^= value >> 27
        value = (value * 0x94D049BB133111EB) & _MASK
        value ^= value >> 31
    return value
