"""Collector layer: the serial and parallel scavengers, their worklist and
evacuation (and, in later issues, the weak list of deoptimized code,
mark-compact and the sweeper)."""

from testbed.gc.evacuator import Evacuator
from testbed.gc.mark_compact import MarkCompact
from testbed.gc.scavenger import ParallelScavenger, ScavengeJob, SerialScavenger
from testbed.gc.worklist import ItemQueue, Worklist

__all__ = ["Evacuator", "ItemQueue", "MarkCompact", "ParallelScavenger", "ScavengeJob", "SerialScavenger", "Worklist"]
