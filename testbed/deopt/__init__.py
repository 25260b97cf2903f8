"""Deoptimization layer: functions and their tiering, deoptimization data,
and the deoptimizer that rebuilds optimized activations as interpreter ones."""

from testbed.deopt.deoptimizer import TieringDeoptimizer
from testbed.deopt.function import Function
from testbed.deopt.translation import CapturedObject, DeoptimizationData, Translation

__all__ = ["CapturedObject", "DeoptimizationData", "Function", "TieringDeoptimizer", "Translation"]
