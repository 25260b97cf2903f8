"""Collector layer: the serial and parallel scavengers, their worklist and
evacuation, and the mark-compact with its sweeper, which also retires dead
code from the weak list of deoptimized code."""

from testbed.gc.evacuator import Evacuator
from testbed.gc.mark_compact import MarkCompact
from testbed.gc.scavenger import ParallelScavenger, ScavengeJob, SerialScavenger
from testbed.gc.worklist import ItemQueue, Worklist

__all__ = ["Evacuator", "ItemQueue", "MarkCompact", "ParallelScavenger", "ScavengeJob", "SerialScavenger", "Worklist"]
