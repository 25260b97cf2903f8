"""Checking layer: the invariant catalogue, the shadow-graph oracle, the
heap verifier with its checkmark trace, and the checker that wires them
into a run.  Reads every layer below, through raw data only
(:mod:`testbed.check.raw`); nothing below imports it."""

from testbed.check.checker import Checker
from testbed.check.findings import Evaluations
from testbed.check.invariants import INVARIANTS, Invariant, invariant_names
from testbed.check.shadow import ShadowGraph, logical
from testbed.check.verifier import HeapVerifier

__all__ = [
    "INVARIANTS",
    "Checker",
    "Evaluations",
    "HeapVerifier",
    "Invariant",
    "ShadowGraph",
    "invariant_names",
    "logical",
]
