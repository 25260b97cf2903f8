"""Collector layer: the scavenger (and, in later issues, the parallel
scavenger, the weak list of deoptimized code, mark-compact and the sweeper)."""

from testbed.gc.scavenger import SerialScavenger

__all__ = ["SerialScavenger"]
