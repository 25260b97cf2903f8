"""Checking layer: the invariant catalogue, the shadow-graph oracle, the
heap verifier and the checker that wires them into a run.  Reads every
layer below; nothing below imports it."""

from testbed.check.checker import Checker
from testbed.check.invariants import INVARIANTS, Invariant, invariant_names
from testbed.check.shadow import ShadowGraph, logical
from testbed.check.verifier import HeapVerifier

__all__ = ["INVARIANTS", "Checker", "HeapVerifier", "Invariant", "ShadowGraph", "invariant_names", "logical"]
