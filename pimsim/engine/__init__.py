"""Operator-level engine: SimPy processes over the exact PIM channel model."""

from pimsim.dram.system import PimSystem
from pimsim.engine.simulate import MODES, SimResult, simulate

__all__ = ["MODES", "PimSystem", "SimResult", "simulate"]
